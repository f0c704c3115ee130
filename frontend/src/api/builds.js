import { apiRequest } from './client.js'

/** POST /api/create-user: registers the user and starts a build. Answers 202 with the ids. */
export function createUser({ email, phone, hostProvider, siteType, requirements }) {
  return apiRequest('/api/create-user', {
    method: 'POST',
    body: {
      email,
      phone: phone || null,
      host_provider: hostProvider,
      site_type: siteType,
      requirements,
    },
  })
}

/** GET /api/status/{executionId}: the build's steps, result and latest activity. */
export function getBuildStatus(executionId, { signal } = {}) {
  return apiRequest(`/api/status/${encodeURIComponent(executionId)}`, { signal })
}
