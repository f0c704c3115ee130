// The admin's credential and every admin call. The admin token is checked by the server on each
// request (never in the browser); the portal only keeps it for the tab's life (sessionStorage)
// and forgets it on the first 401, which sends every admin page back to the login.

import { ApiError, apiRequest } from './client.js'

export const ADMIN_TOKEN_KEY = 'tmuxBuilder.adminToken'

let inMemoryToken = null
const listeners = new Set()

function storage() {
  try {
    return window.sessionStorage
  } catch {
    return null
  }
}

function announce() {
  for (const listener of [...listeners]) listener()
}

export function readAdminToken() {
  try {
    return storage()?.getItem(ADMIN_TOKEN_KEY) || inMemoryToken
  } catch {
    return inMemoryToken
  }
}

export function storeAdminToken(token) {
  inMemoryToken = token
  try {
    storage()?.setItem(ADMIN_TOKEN_KEY, token)
  } catch {
    // Refused storage: the in-memory copy lasts as long as the page.
  }
  announce()
}

export function clearAdminToken() {
  inMemoryToken = null
  try {
    storage()?.removeItem(ADMIN_TOKEN_KEY)
  } catch {
    // Nothing stored, nothing to clear.
  }
  announce()
}

/** Call `listener()` whenever the admin token is stored or cleared; returns the unsubscribe. */
export function subscribeAdminToken(listener) {
  listeners.add(listener)
  return () => listeners.delete(listener)
}

/**
 * An API call with the admin token. A 401 means the token is gone or wrong: it is forgotten,
 * so the pages show the login again.
 */
export async function adminRequest(path, options = {}) {
  const token = readAdminToken()
  if (!token) throw new ApiError(401, { error: 'Unauthorized', message: 'Sign in as the admin first.' })
  try {
    return await apiRequest(path, { ...options, token })
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) clearAdminToken()
    throw err
  }
}

/**
 * Ask the server whether `token` is the admin credential (an admin route answers 200).
 * Throws ApiError: 401 for a wrong token, 403 for a client's link token.
 */
export async function verifyAdminToken(token) {
  const candidate = String(token ?? '').trim()
  if (!candidate) throw new ApiError(401, { error: 'Unauthorized', message: 'Enter the admin token.' })
  await apiRequest('/api/admin/sessions?limit=1', { token: candidate })
  return candidate
}

function query(params) {
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value))
  }
  const text = search.toString()
  return text ? `?${text}` : ''
}

const id = encodeURIComponent

// ---- sessions

/** GET /api/admin/sessions: `{sessions, next_cursor}`, newest first. */
export function listSessions({ filter = 'all', q, cursor, limit = 20 } = {}, { signal } = {}) {
  return adminRequest(`/api/admin/sessions${query({ filter, q, cursor, limit })}`, { signal })
}

/** POST /api/admin/sessions: answers `{user_id, session_id, execution_id, client_url, ...}`. */
export function createSession(body) {
  return adminRequest('/api/admin/sessions', { method: 'POST', body })
}

export function getSession(sessionId, { signal } = {}) {
  return adminRequest(`/api/admin/sessions/${id(sessionId)}`, { signal })
}

export function completeSession(sessionId) {
  return adminRequest(`/api/admin/sessions/${id(sessionId)}/complete`, { method: 'POST' })
}

export function restoreSession(sessionId) {
  return adminRequest(`/api/admin/sessions/${id(sessionId)}/restore`, { method: 'POST' })
}

/** DELETE /api/admin/sessions/{id}: removes the site's cloud resources. */
export function deleteSession(sessionId) {
  return adminRequest(`/api/admin/sessions/${id(sessionId)}`, { method: 'DELETE' })
}

/** DELETE /api/admin/users/{id}: every site, the user's cloud identity and tmux session. */
export function deleteUser(userId) {
  return adminRequest(`/api/admin/users/${id(userId)}`, { method: 'DELETE' })
}

/** GET /api/admin/sessions/{id}/pane: `{text, captured_at, source, age_seconds}`. */
export function getPane(sessionId, { signal } = {}) {
  return adminRequest(`/api/admin/sessions/${id(sessionId)}/pane`, { signal })
}

// ---- builds

export function getStatus(executionId, { signal } = {}) {
  return adminRequest(`/api/status/${id(executionId)}`, { signal })
}

/** GET /api/admin/executions/{id}/history: `{status, states: [...], next_cursor}`. */
export function getExecutionHistory(executionId, { cursor, limit } = {}, { signal } = {}) {
  return adminRequest(`/api/admin/executions/${id(executionId)}/history${query({ cursor, limit })}`, {
    signal,
  })
}

export function redeploy(executionId, fromStep = 'deploy') {
  return adminRequest(`/api/redeploy/${id(executionId)}`, { method: 'POST', body: { from_step: fromStep } })
}

// ---- chat

export function getChat(sessionId, { signal } = {}) {
  return adminRequest(`/api/sessions/${id(sessionId)}/chat`, { signal })
}

export function sendChat(sessionId, message) {
  return adminRequest(`/api/sessions/${id(sessionId)}/chat`, { method: 'POST', body: { message } })
}

// ---- onboarding requests

/** GET /api/admin/requests: `{requests, next_cursor}`. */
export function listRequests({ status = 'pending', cursor, limit = 20 } = {}, { signal } = {}) {
  return adminRequest(`/api/admin/requests${query({ status, cursor, limit })}`, { signal })
}

export function approveRequest(requestId) {
  return adminRequest(`/api/admin/requests/${id(requestId)}/approve`, { method: 'POST' })
}

export function rejectRequest(requestId, reason) {
  const body = reason?.trim() ? { reason: reason.trim() } : undefined
  return adminRequest(`/api/admin/requests/${id(requestId)}/reject`, { method: 'POST', body })
}
