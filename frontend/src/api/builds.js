import { apiRequest } from './client.js'

/** GET /api/status/{executionId}: the build's steps, result and latest activity. */
export function getBuildStatus(executionId, { signal } = {}) {
  return apiRequest(`/api/status/${encodeURIComponent(executionId)}`, { signal })
}
