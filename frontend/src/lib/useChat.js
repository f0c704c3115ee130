import { useCallback, useEffect, useState } from 'react'

import { getChatHistory, sendChatMessage } from '../api/chat.js'
import { ApiError } from '../api/client.js'
import { CHAT_POLL_MS, hasPendingTurn, mergeTurns, queuedTurn } from './chat.js'
import { STATUS, useRealtimeConnect, useRealtimeEvents } from './realtime.js'

function sendProblem(err) {
  if (!(err instanceof ApiError)) return 'Could not reach the server. Your message was not sent.'
  const field = err.fields.find((f) => f.field === 'message')
  return field ? `Message ${field.message}.` : err.message
}

/**
 * The conversation of a build's site: history, sending, and answers as they come.
 *
 * Answers arrive as realtime `chat` events; without an open socket the history is polled
 * every {@link CHAT_POLL_MS} while a question waits. Returns
 * `{ turns, loading, loadError, sending, sendError, send(text) -> Promise<boolean> }`.
 */
export function useChat(executionId, { realtime = null, interval = CHAT_POLL_MS } = {}) {
  const [turns, setTurns] = useState([])
  const [sessionId, setSessionId] = useState(null)
  const [loading, setLoading] = useState(true)
  const [loadError, setLoadError] = useState(null)
  const [sending, setSending] = useState(false)
  const [sendError, setSendError] = useState(null)
  const [reloads, setReloads] = useState(0)
  const live = realtime?.status === STATUS.OPEN
  const pending = hasPendingTurn(turns)

  // The first load, and again after every reconnect (answers may have been missed).
  useEffect(() => {
    const controller = new AbortController()
    getChatHistory(executionId, { signal: controller.signal })
      .then((answer) => {
        if (controller.signal.aborted) return
        setSessionId(answer?.session_id ?? null)
        setTurns((prev) => mergeTurns(prev, answer?.messages))
        setLoadError(null)
        setLoading(false)
      })
      .catch((err) => {
        if (controller.signal.aborted) return
        setLoadError(err.message)
        setLoading(false)
      })
    return () => controller.abort()
  }, [executionId, reloads])

  useRealtimeConnect(realtime?.client, () => setReloads((n) => n + 1))
  useRealtimeEvents(realtime?.client, (event) => {
    if (event.type !== 'chat' || !event.turn) return
    if (sessionId && event.session_id && event.session_id !== sessionId) return
    setTurns((prev) => mergeTurns(prev, [event.turn]))
  })

  // Without a socket, ask again while a question waits for its answer.
  useEffect(() => {
    if (live || !pending) return undefined
    const timer = setTimeout(() => setReloads((n) => n + 1), interval)
    return () => clearTimeout(timer)
  }, [live, pending, interval, reloads])

  const send = useCallback(
    async (text) => {
      setSending(true)
      setSendError(null)
      try {
        const answer = await sendChatMessage(executionId, text)
        setTurns((prev) => mergeTurns(prev, [queuedTurn(answer, text)]))
        return true
      } catch (err) {
        setSendError(sendProblem(err))
        return false
      } finally {
        setSending(false)
      }
    },
    [executionId],
  )

  return { turns, sessionId, loading, loadError, sending, sendError, send }
}
