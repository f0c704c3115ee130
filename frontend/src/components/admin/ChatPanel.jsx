import { useCallback, useEffect, useState } from 'react'

import { getChat, sendChat } from '../../api/admin.js'
import { formatTime } from '../../lib/buildStatus.js'
import { usePolling } from './usePolling.js'

const ROLE_STYLE = {
  user: 'ml-8 bg-sky-50 border-sky-200',
  assistant: 'mr-8 bg-white border-slate-200',
}

/** The session's conversation with its AI; the admin can write in it too. */
export default function ChatPanel({ sessionId, interval = 3000, refreshKey = 0 }) {
  const load = useCallback((signal) => getChat(sessionId, { signal }), [sessionId])
  const { data, error, refresh } = usePolling(load, { interval })
  // A realtime chat event bumps refreshKey: ask for the history now rather than at the next poll.
  useEffect(() => {
    if (refreshKey) refresh()
  }, [refreshKey, refresh])
  const [text, setText] = useState('')
  const [sending, setSending] = useState(false)
  const [sendError, setSendError] = useState(null)

  async function onSubmit(event) {
    event.preventDefault()
    if (!text.trim()) return
    setSending(true)
    setSendError(null)
    try {
      await sendChat(sessionId, text)
      setText('')
      refresh()
    } catch (err) {
      setSendError(err.message)
    } finally {
      setSending(false)
    }
  }

  const messages = data?.messages ?? []
  return (
    <section aria-labelledby="chat-title" className="flex min-h-0 flex-col rounded-lg border border-slate-200 bg-white">
      <h2 id="chat-title" className="border-b border-slate-200 px-4 py-2 font-semibold">
        Chat
      </h2>
      <ol aria-label="Conversation" className="max-h-96 flex-1 space-y-2 overflow-y-auto p-4 text-sm">
        {messages.length === 0 && <li className="text-slate-500">No messages yet.</li>}
        {messages.map((m) => (
          <li key={`${m.message_id}-${m.role}`} className={`rounded-md border p-2 ${ROLE_STYLE[m.role] ?? ''}`}>
            <div className="mb-1 flex justify-between gap-2 text-xs text-slate-500">
              <span>{m.role === 'user' ? 'Client / admin' : 'AI'}</span>
              <span>
                {m.status !== 'answered' && <span className="mr-2 font-medium">{m.status}</span>}
                <time dateTime={m.at}>{formatTime(m.at)}</time>
              </span>
            </div>
            <p className="whitespace-pre-wrap break-words">{m.text}</p>
            {m.error && <p className="mt-1 text-xs text-red-700">{m.error}</p>}
          </li>
        ))}
      </ol>
      {error && (
        <p role="alert" className="px-4 text-sm text-red-700">
          {error.message}
        </p>
      )}
      <form onSubmit={onSubmit} className="border-t border-slate-200 p-3">
        <label htmlFor="admin-chat" className="sr-only">
          Message to the AI
        </label>
        <textarea
          id="admin-chat"
          rows={2}
          value={text}
          maxLength={4000}
          onChange={(event) => setText(event.target.value)}
          placeholder="Write to the AI working on this site"
          className="block w-full rounded-md border border-slate-300 px-3 py-2 text-sm focus:border-sky-500 focus:outline-none focus:ring-2 focus:ring-sky-200"
        />
        {sendError && (
          <p role="alert" className="mt-1 text-sm text-red-700">
            {sendError}
          </p>
        )}
        <button
          type="submit"
          disabled={sending || !text.trim()}
          className="mt-2 rounded-md bg-sky-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-sky-700 disabled:opacity-50"
        >
          {sending ? 'Sending…' : 'Send as admin'}
        </button>
      </form>
    </section>
  )
}
