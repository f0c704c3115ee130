import { useEffect, useRef, useState } from 'react'

import { formatTime } from '../lib/buildStatus.js'
import { CHAT_MAX } from '../lib/chat.js'
import Markdown from './Markdown.jsx'
import Notice from './Notice.jsx'

function Waiting() {
  return (
    <span className="inline-flex items-center gap-1.5 text-xs text-slate-500">
      <span className="h-3 w-3 animate-spin rounded-full border-2 border-slate-400 border-t-transparent" aria-hidden="true" />
      Queued — the AI will answer shortly…
    </span>
  )
}

function Turn({ turn }) {
  const mine = turn.role === 'user'
  return (
    <li
      data-testid={`chat-${turn.role}`}
      data-status={turn.status}
      className={`flex flex-col gap-1 ${mine ? 'items-end' : 'items-start'}`}
    >
      <div
        className={`max-w-[90%] rounded-lg px-3 py-2 text-sm ${
          mine ? 'whitespace-pre-wrap break-words bg-sky-600 text-white' : 'border border-slate-200 bg-slate-50 text-slate-800'
        }`}
      >
        <span className="sr-only">{mine ? 'You: ' : 'AI: '}</span>
        {mine ? turn.text : <Markdown>{turn.text}</Markdown>}
      </div>
      <div className="flex items-center gap-2 text-xs text-slate-400">
        <time dateTime={turn.at}>{formatTime(turn.at)}</time>
        {mine && turn.status === 'queued' && <Waiting />}
        {turn.status === 'failed' && (
          <span className="text-red-700">Not answered: {turn.error || 'the AI could not take this message'}</span>
        )}
      </div>
    </li>
  )
}

/** The conversation with the AI working on the site (`chat` from {@link useChat}). */
export default function ChatPanel({ chat, disabledReason = null }) {
  const [text, setText] = useState('')
  const list = useRef(null)
  const count = chat.turns.length
  // Keep the newest turn in view as the conversation grows.
  useEffect(() => {
    if (list.current) list.current.scrollTop = list.current.scrollHeight
  }, [count])
  const trimmed = text.trim()
  const tooLong = trimmed.length > CHAT_MAX
  const canSend = Boolean(trimmed) && !tooLong && !chat.sending && !disabledReason

  async function submit(event) {
    event.preventDefault()
    if (!canSend) return
    if (await chat.send(trimmed)) setText('')
  }

  function onKeyDown(event) {
    // Enter sends, Shift+Enter starts a new line (as in most chat apps).
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) submit(event)
  }

  return (
    <div className="space-y-3">
      {chat.loading && <p className="text-sm text-slate-500">Loading the conversation…</p>}
      {chat.loadError && (
        <Notice tone="warning" role="alert">
          Could not load the conversation: {chat.loadError}
        </Notice>
      )}
      {!chat.loading && chat.turns.length === 0 && (
        <p className="text-sm text-slate-500">Ask for a change, for example “make the background blue”.</p>
      )}
      {chat.turns.length > 0 && (
        <ol ref={list} aria-label="Conversation" className="max-h-[28rem] space-y-3 overflow-y-auto pr-1">
          {chat.turns.map((turn) => (
            <Turn key={turn.message_id} turn={turn} />
          ))}
        </ol>
      )}
      <form onSubmit={submit} className="space-y-2" aria-label="Send a message">
        <label htmlFor="chat-message" className="sr-only">
          Message to the AI
        </label>
        <textarea
          id="chat-message"
          rows={3}
          value={text}
          onChange={(e) => setText(e.target.value)}
          onKeyDown={onKeyDown}
          placeholder="Message to the AI…"
          aria-invalid={tooLong || undefined}
          aria-describedby="chat-help"
          className="block w-full rounded-md border border-slate-300 px-3 py-2 text-base shadow-sm focus:border-sky-500 focus:outline-none focus:ring-2 focus:ring-sky-200"
        />
        <div className="flex flex-wrap items-center justify-between gap-2">
          <p id="chat-help" className={`text-xs ${tooLong ? 'text-red-600' : 'text-slate-500'}`}>
            {tooLong ? `Please keep it under ${CHAT_MAX} characters (${trimmed.length}).` : 'Enter sends, Shift+Enter adds a line.'}
          </p>
          <button
            type="submit"
            disabled={!canSend}
            className="rounded-md bg-sky-600 px-4 py-2 text-sm font-semibold text-white hover:bg-sky-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-400 disabled:cursor-not-allowed disabled:bg-slate-400"
          >
            {chat.sending ? 'Sending…' : 'Send'}
          </button>
        </div>
        {disabledReason && <p className="text-sm text-slate-500">{disabledReason}</p>}
        {chat.sendError && (
          <Notice tone="error" role="alert">
            {chat.sendError}
          </Notice>
        )}
      </form>
    </div>
  )
}
