import { useState } from 'react'

import { activityType, readableActivity } from '../lib/activityFilter.js'
import { MAX_ACTIVITY_LINES, formatTime, latestActivity } from '../lib/buildStatus.js'
import { stepTitle } from '../lib/pipeline.js'
import Markdown from './Markdown.jsx'

const TONE_CLASS = {
  error: 'text-red-700',
  success: 'text-green-700',
  info: 'text-slate-700',
}

function ProgressLine({ value }) {
  return (
    <span className="flex min-w-0 flex-1 items-center gap-2">
      <span
        role="progressbar"
        aria-label="Step progress"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={value}
        className="h-1.5 w-24 overflow-hidden rounded bg-slate-200"
      >
        <span className="block h-full bg-sky-600" style={{ width: `${value}%` }} />
      </span>
      <span className="tabular-nums text-slate-700">{value}%</span>
    </span>
  )
}

function Line({ line }) {
  return (
    <li className="flex gap-2" data-tone={line.tone}>
      <time dateTime={line.at} className="shrink-0 tabular-nums text-slate-400">
        {formatTime(line.at)}
      </time>
      {line.progress != null ? (
        <ProgressLine value={line.progress} />
      ) : (
        <span className={`min-w-0 flex-1 break-words ${TONE_CLASS[line.tone] ?? TONE_CLASS.info}`}>
          {line.step && <span className="text-slate-500">[{stepTitle(line.step)}] </span>}
          {line.markdown ? <Markdown className="mt-0.5 text-slate-800">{line.text}</Markdown> : line.text}
        </span>
      )}
    </li>
  )
}

function RawLine({ event }) {
  return (
    <li className="flex gap-2 font-mono text-xs">
      <time dateTime={event.at} className="shrink-0 tabular-nums text-slate-400">
        {formatTime(event.at)}
      </time>
      <span className="shrink-0 text-slate-500">{activityType(event)}</span>
      {event.step && <span className="shrink-0 text-slate-500">{event.step}</span>}
      <span className="min-w-0 whitespace-pre-wrap break-all text-slate-800">{event.message}</span>
    </li>
  )
}

/**
 * What the build is doing, newest first, as a person reads it (see lib/activityFilter.js).
 * Admins (`isAdmin`) can switch to the raw messages.
 */
export default function ActivityPanel({ activity, isAdmin = false, limit = MAX_ACTIVITY_LINES }) {
  const [raw, setRaw] = useState(false)
  const showRaw = isAdmin && raw
  const newest = latestActivity(activity, Number.POSITIVE_INFINITY)
  const lines = showRaw ? newest.slice(0, limit) : readableActivity(newest).slice(0, limit)
  return (
    <div className="space-y-2">
      {isAdmin && (
        <label className="flex items-center gap-2 text-sm text-slate-600">
          <input type="checkbox" checked={raw} onChange={(e) => setRaw(e.target.checked)} className="accent-sky-600" />
          Show raw messages
        </label>
      )}
      {lines.length === 0 ? (
        <p className="text-sm text-slate-500">No activity yet.</p>
      ) : (
        <ul aria-label={showRaw ? 'Raw activity' : 'Latest activity'} className="space-y-1 text-sm">
          {showRaw
            ? lines.map((event) => <RawLine key={`${event.at}-${event.index}`} event={event} />)
            : lines.map((line, i) => <Line key={`${line.at}-${i}`} line={line} />)}
        </ul>
      )}
    </div>
  )
}
