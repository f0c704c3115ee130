// Pure helpers for the chat panel: merging turns from the history route, the send answer and
// realtime `chat` events into one conversation.

export const CHAT_POLL_MS = 2000
export const CHAT_MAX = 4000

function order(a, b) {
  return String(a.at).localeCompare(String(b.at)) || String(a.message_id).localeCompare(String(b.message_id))
}

/**
 * `turns` with `incoming` turns added or replaced (by `message_id`), oldest first.
 * An answer marks its question answered, even when the question's own update was missed.
 */
export function mergeTurns(turns, incoming) {
  const byId = new Map((turns ?? []).map((turn) => [turn.message_id, turn]))
  for (const turn of incoming ?? []) {
    if (!turn?.message_id) continue
    byId.set(turn.message_id, { ...byId.get(turn.message_id), ...turn })
  }
  for (const turn of byId.values()) {
    const question = turn.role === 'assistant' && turn.in_reply_to ? byId.get(turn.in_reply_to) : null
    if (question && question.status === 'queued') byId.set(question.message_id, { ...question, status: 'answered' })
  }
  return [...byId.values()].sort(order)
}

/** Whether a question still waits for its answer. */
export function hasPendingTurn(turns) {
  return (turns ?? []).some((turn) => turn.role === 'user' && turn.status === 'queued')
}

/** The user turn the send route's 202 answer stands for. */
export function queuedTurn(answer, text) {
  return { message_id: answer.message_id, role: 'user', text, status: 'queued', at: answer.at, in_reply_to: null, error: null }
}
