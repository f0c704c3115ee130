// The one place that talks HTTP to the control plane. Every call is same-origin (`/api/...`):
// the local gateway and CloudFront both serve the portal and the API from one host.

/** The API answered with an error body: `{"error", "message", "fields": [{field, message}]}`. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `Request failed with status ${status}`)
    this.name = 'ApiError'
    this.status = status
    this.code = body?.error || 'HttpError'
    this.fields = Array.isArray(body?.fields) ? body.fields : []
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

/**
 * Send a request to the API and return the parsed JSON body.
 *
 * Throws {@link ApiError} on a non-2xx answer and {@link NetworkError} when there is none.
 * An `AbortError` from `signal` is rethrown as is so callers can ignore it.
 */
export async function apiRequest(path, { method = 'GET', body, signal } = {}) {
  const init = { method, headers: { Accept: 'application/json' }, signal }
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json'
    init.body = JSON.stringify(body)
  }
  let response
  try {
    response = await fetch(path, init)
  } catch (err) {
    if (err?.name === 'AbortError') throw err
    throw new NetworkError(err)
  }
  const data = await readJson(response)
  if (!response.ok) throw new ApiError(response.status, data)
  return data
}
