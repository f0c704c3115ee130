import { apiRequest } from './client.js'

/** GET /api/status/{executionId}: the build's steps, result and latest activity. */
export function getBuildStatus(executionId, { signal } = {}) {
  return apiRequest(`/api/status/${encodeURIComponent(executionId)}`, { signal })
}

/**
 * POST /api/redeploy/{executionId}: a new execution that reuses the site's bucket, CDN and URL.
 * `fromStep` is `deploy` (the same code again) or `generate_code` (write the code anew).
 * Answers `{execution_id, source_execution_id, from_step}`.
 */
export function redeployBuild(executionId, { fromStep = 'deploy' } = {}) {
  return apiRequest(`/api/redeploy/${encodeURIComponent(executionId)}`, {
    method: 'POST',
    body: { from_step: fromStep },
  })
}

/** GET /api/client/projects/{sessionId}/history: every build of a project, newest first. */
export function getProjectHistory(sessionId, { signal } = {}) {
  return apiRequest(`/api/client/projects/${encodeURIComponent(sessionId)}/history`, { signal })
}
