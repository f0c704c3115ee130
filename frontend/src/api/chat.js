import { apiRequest } from './client.js'

/** GET /api/chat/{executionId}/history: the site's conversation, oldest first. */
export function getChatHistory(executionId, { signal } = {}) {
  return apiRequest(`/api/chat/${encodeURIComponent(executionId)}/history`, { signal })
}

/** POST /api/chat/{executionId}: answers 202 `{message_id, session_id, status: "queued", at}`. */
export function sendChatMessage(executionId, message) {
  return apiRequest(`/api/chat/${encodeURIComponent(executionId)}`, { method: 'POST', body: { message } })
}
