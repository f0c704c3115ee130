import { describe, expect, it } from 'vitest'

import { jsonResponse, mockFetch } from '../test/helpers.jsx'
import { getBuildStatus } from './builds.js'
import { ApiError, apiRequest, parseRetryAfter } from './client.js'
import { CLIENT_TOKEN_KEY, clearClientToken, readClientToken, storeClientToken } from './credentials.js'
import { submitOnboardingRequest } from './onboardingRequests.js'
import { listClientProjects } from './projects.js'

const ONBOARDING = {
  name: 'Ana',
  email: 'ana@example.com',
  phone: '',
  initialRequest: 'A site for my bakery',
  hostProvider: 'aws',
  siteType: 'static',
}

describe('apiRequest credentials', () => {
  it('sends the stored client token as a bearer header', async () => {
    const fetchMock = mockFetch(() => jsonResponse(200, { projects: [] }))
    storeClientToken('tok.en.1')

    await listClientProjects()
    await getBuildStatus('exec-1')

    expect(fetchMock).toHaveBeenCalledTimes(2)
    for (const [, init] of fetchMock.mock.calls) {
      expect(init.headers.Authorization).toBe('Bearer tok.en.1')
    }
  })

  it('sends an explicit token instead of the stored one (realtime, admin pages)', async () => {
    const fetchMock = mockFetch(() => jsonResponse(200, {}))
    storeClientToken('stored.client.token')

    await apiRequest('/api/realtime', { token: 'given.token' })
    await apiRequest('/api/realtime', { token: 'given.token', anonymous: true })

    expect(fetchMock.mock.calls[0][1].headers.Authorization).toBe('Bearer given.token')
    expect(fetchMock.mock.calls[1][1].headers).not.toHaveProperty('Authorization')
  })

  it('sends no Authorization header when no token is stored', async () => {
    const fetchMock = mockFetch(() => jsonResponse(200, {}))

    await apiRequest('/api/status/x')

    expect(fetchMock.mock.calls[0][1].headers).not.toHaveProperty('Authorization')
  })

  it('keeps onboarding anonymous even with a token stored', async () => {
    const fetchMock = mockFetch(() => jsonResponse(202, { request_id: 'r1', status: 'pending' }))
    storeClientToken('tok.en.1')

    await submitOnboardingRequest(ONBOARDING)

    const [url, init] = fetchMock.mock.calls[0]
    expect(url).toBe('/api/requests')
    expect(init.headers).not.toHaveProperty('Authorization')
    expect(JSON.parse(init.body)).toEqual({
      name: 'Ana',
      email: 'ana@example.com',
      phone: null,
      initial_request: 'A site for my bakery',
      host_provider: 'aws',
      site_type: 'static',
    })
  })
})

describe('credentials', () => {
  it('keeps the client token in localStorage under its documented key', () => {
    storeClientToken('abc')
    expect(window.localStorage.getItem(CLIENT_TOKEN_KEY)).toBe('abc')
    expect(CLIENT_TOKEN_KEY).toBe('tmuxBuilder.clientToken')
    clearClientToken()
    expect(readClientToken()).toBeNull()
  })
})

describe('error answers', () => {
  it('carries status, fields and Retry-After of a 429', async () => {
    mockFetch(() =>
      jsonResponse(429, { error: 'RateLimited', message: 'Too many requests from this address' }, { 'Retry-After': '30' }),
    )
    const err = await apiRequest('/api/requests', { method: 'POST', body: {} }).catch((e) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect(err).toMatchObject({ status: 429, code: 'RateLimited', retryAfterSeconds: 30 })
    expect(err.message).toBe('Too many requests from this address')
  })

  it('has a readable message when an error answer has no body', async () => {
    mockFetch(() => jsonResponse(401, undefined))
    const err = await apiRequest('/api/client/projects').catch((e) => e)
    expect(err).toMatchObject({ status: 401, code: 'HttpError', retryAfterSeconds: null })
    expect(err.message).toMatch(/sign-in link/)
  })

  it.each([
    ['120', 120],
    [' 0 ', 0],
    ['Wed, 01 Jan 2025 10:00:30 GMT', 30],
    ['Wed, 01 Jan 2025 09:00:00 GMT', 0],
    ['soon', null],
    [null, null],
  ])('parseRetryAfter(%j) -> %j', (value, seconds) => {
    expect(parseRetryAfter(value, Date.parse('2025-01-01T10:00:00Z'))).toBe(seconds)
  })
})
