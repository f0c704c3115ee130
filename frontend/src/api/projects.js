import { apiRequest } from './client.js'

/** GET /api/client/projects: the signed-in client's own projects, `{projects: [...]}`. */
export function listClientProjects({ signal } = {}) {
  return apiRequest('/api/client/projects', { signal })
}
