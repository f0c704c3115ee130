import { describe, expect, it } from 'vitest'

import { EMPTY_FORM, mapServerFieldErrors, toCreateUserInput, validateOnboarding } from './onboarding.js'

const valid = { ...EMPTY_FORM, email: 'a@b.co', requirements: 'Build a small site' }

describe('validateOnboarding', () => {
  it('accepts a valid form', () => {
    expect(validateOnboarding(valid)).toEqual({})
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

  it('checks requirements length after trimming', () => {
    expect(validateOnboarding({ ...valid, requirements: '   short   ' }).requirements).toMatch(/at least 10/)
    expect(validateOnboarding({ ...valid, requirements: 'x'.repeat(4000) }).requirements).toBeUndefined()
    expect(validateOnboarding({ ...valid, requirements: 'x'.repeat(4001) }).requirements).toMatch(/under 4000/)
    expect(validateOnboarding({ ...valid, requirements: 'bad \u0007 bell char' }).requirements).toMatch(/control/)
  })

  it('rejects the providers and site types that are not available yet', () => {
    expect(validateOnboarding({ ...valid, hostProvider: 'azure' }).hostProvider).toBe('Azure is coming soon.')
    expect(validateOnboarding({ ...valid, siteType: 'dynamic' }).siteType).toBe('Dynamic app is coming soon.')
  })
})

describe('toCreateUserInput', () => {
  it('trims text fields', () => {
    expect(toCreateUserInput({ ...valid, email: ' a@b.co ', phone: ' ', requirements: ' Build it now ' })).toEqual({
      email: 'a@b.co',
      phone: '',
      hostProvider: 'aws',
      siteType: 'static',
      requirements: 'Build it now',
    })
  })
})

describe('mapServerFieldErrors', () => {
  it('maps API field names to inputs and keeps the rest', () => {
    expect(
      mapServerFieldErrors([
        { field: 'email', message: 'bad email' },
        { field: 'host_provider', message: 'not yet' },
        { field: 'email', message: 'second message is dropped' },
        { field: 'body', message: 'invalid JSON' },
      ]),
    ).toEqual({
      fieldErrors: { email: 'bad email', hostProvider: 'not yet' },
      other: ['body: invalid JSON'],
    })
  })

  it('handles a missing list', () => {
    expect(mapServerFieldErrors(undefined)).toEqual({ fieldErrors: {}, other: [] })
  })
})
