import { apiRequest } from './client.js'

/**
 * POST /api/requests (public): ask for a build. Answers 202 with `status` "pending" (someone
 * reviews it) or "approved" (auto-approval started the build; the answer then carries the
 * client token and the execution id).
 */
export function submitOnboardingRequest({ name, email, phone, initialRequest, hostProvider, siteType }) {
  return apiRequest('/api/requests', {
    method: 'POST',
    anonymous: true,
    body: {
      name,
      email,
      phone: phone || null,
      initial_request: initialRequest,
      host_provider: hostProvider,
      site_type: siteType,
    },
  })
}
