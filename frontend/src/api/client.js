// The one place that talks HTTP to the control plane. Every call is same-origin (`/api/...`):
// the local gateway and CloudFront both serve the portal and the API from one host.
// It is also the one place that attaches the caller's credential.

import { readClientToken } from './credentials.js'

// What to say when an error answer carries no message of its own.
const DEFAULT_MESSAGES = {
  401: 'A valid sign-in link is needed.',
  403: 'This belongs to another account.',
  429: 'Too many requests.',
}

/** The API answered with an error body: `{"error", "message", "fields": [{field, message}]}`. */
export class ApiError extends Error {
  constructor(status, body, { retryAfterSeconds = null } = {}) {
    super(body?.message || DEFAULT_MESSAGES[status] || `Request failed with status ${status}`)
    this.name = 'ApiError'
    this.status = status
    this.code = body?.error || 'HttpError'
    this.fields = Array.isArray(body?.fields) ? body.fields : []
    this.retryAfterSeconds = retryAfterSeconds
  }
}

/** The request never got an answer (offline, gateway down, aborted by a proxy ...). */
export class NetworkError extends Error {
  constructor(cause) {
    super('Could not reach the server')
    this.name = 'NetworkError'
    this.cause = cause
  }
}

async function readJson(response) {
  const text = await response.text()
  if (!text) return null
  try {
    return JSON.parse(text)
  } catch {
    return null
  }
}

/** Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date), or null. */
export function parseRetryAfter(value, now = Date.now()) {
  const text = String(value ?? '').trim()
  if (!text) return null
  if (/^\d+$/.test(text)) return Number(text)
  const at = Date.parse(text)
  if (Number.isNaN(at)) return null
  return Math.max(0, Math.ceil((at - now) / 1000))
}

function buildHeaders({ hasBody, anonymous, token: explicitToken }) {
  const headers = { Accept: 'application/json' }
  if (hasBody) headers['Content-Type'] = 'application/json'
  const token = anonymous ? null : explicitToken || readClientToken()
  if (token) headers.Authorization = `Bearer ${token}`
  return headers
}

/**
 * Send a request to the API and return the parsed JSON body.
 *
 * The stored client token goes along as `Authorization: Bearer ...` unless `anonymous` is set
 * (public onboarding: a stale token must not turn a public request into a 401); `token`
 * sends that credential instead (the realtime client and the admin pages name theirs).
 * Throws {@link ApiError} on a non-2xx answer and {@link NetworkError} when there is none.
 * An `AbortError` from `signal` is rethrown as is so callers can ignore it.
 */
export async function apiRequest(path, { method = 'GET', body, signal, anonymous = false, token } = {}) {
  const init = { method, headers: buildHeaders({ hasBody: body !== undefined, anonymous, token }), signal }
  if (body !== undefined) init.body = JSON.stringify(body)
  let response
  try {
    response = await fetch(path, init)
  } catch (err) {
    if (err?.name === 'AbortError') throw err
    throw new NetworkError(err)
  }
  const data = await readJson(response)
  if (!response.ok) {
    const retryAfterSeconds = parseRetryAfter(response.headers?.get?.('Retry-After'))
    throw new ApiError(response.status, data, { retryAfterSeconds })
  }
  return data
}
