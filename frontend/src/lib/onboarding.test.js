import { describe, expect, it } from 'vitest'

import {
  EMPTY_FORM,
  afterRequestAnswer,
  mapServerFieldErrors,
  toOnboardingInput,
  validateOnboarding,
} from './onboarding.js'

const valid = { ...EMPTY_FORM, name: 'Ana', email: 'a@b.co', initialRequest: 'Build a small site' }

describe('validateOnboarding', () => {
  it('accepts a valid form', () => {
    expect(validateOnboarding(valid)).toEqual({})
  })

  it.each([
    ['', 'Tell us your name.'],
    ['   ', 'Tell us your name.'],
    ['x'.repeat(101), 'Please keep your name under 100 characters.'],
    ['Ana\u0000', 'Remove the invisible control characters.'],
  ])('rejects name %j', (name, message) => {
    expect(validateOnboarding({ ...valid, name }).name).toBe(message)
  })

  it('accepts a name of 100 characters', () => {
    expect(validateOnboarding({ ...valid, name: ` ${'x'.repeat(100)} ` }).name).toBeUndefined()
  })

  it.each([
    ['', 'Email is required.'],
    ['a@b', 'Enter a valid email address.'],
    ['a b@c.de', 'Enter a valid email address.'],
  ])('rejects email %j', (email, message) => {
    expect(validateOnboarding({ ...valid, email }).email).toBe(message)
  })

  it.each(['+1 555 123 4567', '555-1234', '1234567', '12345678901234567890'])('accepts phone %j', (phone) => {
    expect(validateOnboarding({ ...valid, phone }).phone).toBeUndefined()
  })

  it.each(['123456', '123456789012345678901', '555-abcd', '555--1234-', '(555) 1234'])(
    'rejects phone %j',
    (phone) => {
      expect(validateOnboarding({ ...valid, phone }).phone).toBeTruthy()
    },
  )

  it('checks the request length after trimming', () => {
    const check = (initialRequest) => validateOnboarding({ ...valid, initialRequest }).initialRequest
    expect(check('   short   ')).toMatch(/at least 10/)
    expect(check('x'.repeat(4000))).toBeUndefined()
    expect(check('x'.repeat(4001))).toMatch(/under 4000/)
    expect(check('bad \u0007 bell char')).toMatch(/control/)
  })

  it('offers every provider and site type the API builds', () => {
    expect(validateOnboarding({ ...valid, hostProvider: 'azure' }).hostProvider).toBeUndefined()
    expect(validateOnboarding({ ...valid, siteType: 'dynamic' }).siteType).toBeUndefined()
    expect(validateOnboarding({ ...valid, hostProvider: 'gcp' }).hostProvider).toBeTruthy()
  })
})

describe('toOnboardingInput', () => {
  it('trims text fields', () => {
    expect(
      toOnboardingInput({ ...valid, name: ' Ana ', email: ' a@b.co ', phone: ' ', initialRequest: ' Build it now ' }),
    ).toEqual({
      name: 'Ana',
      email: 'a@b.co',
      phone: '',
      hostProvider: 'aws',
      siteType: 'static',
      initialRequest: 'Build it now',
    })
  })
})

describe('afterRequestAnswer', () => {
  it.each([
    [{ status: 'approved', execution_id: 'e1', client_token: 't' }, { kind: 'status', executionId: 'e1' }],
    [{ status: 'approved', client_token: 't' }, { kind: 'projects' }],
    [{ status: 'approved', execution_id: 'e1' }, { kind: 'received', approved: true }],
    [{ status: 'pending', request_id: 'r1' }, { kind: 'received', approved: false }],
    [null, { kind: 'received', approved: false }],
  ])('%j -> %j', (answer, next) => {
    expect(afterRequestAnswer(answer)).toEqual(next)
  })
})

describe('mapServerFieldErrors', () => {
  it('maps API field names to inputs and keeps the rest', () => {
    expect(
      mapServerFieldErrors([
        { field: 'email', message: 'bad email' },
        { field: 'host_provider', message: 'not yet' },
        { field: 'initial_request', message: 'too short' },
        { field: 'name', message: 'too long' },
        { field: 'email', message: 'second message is dropped' },
        { field: 'body', message: 'invalid JSON' },
      ]),
    ).toEqual({
      fieldErrors: { email: 'bad email', hostProvider: 'not yet', initialRequest: 'too short', name: 'too long' },
      other: ['body: invalid JSON'],
    })
  })

  it('handles a missing list', () => {
    expect(mapServerFieldErrors(undefined)).toEqual({ fieldErrors: {}, other: [] })
  })
})
