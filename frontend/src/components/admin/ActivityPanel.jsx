import { useState } from 'react'

import { formatTime } from '../../lib/buildStatus.js'
import { activityType, describeActivity } from '../../lib/activityFilter.js'
import { stepTitle } from '../../lib/pipeline.js'

const TONE = { error: 'text-red-700', success: 'text-green-700', info: 'text-slate-700' }

function ReadableLine({ event }) {
  const line = describeActivity(event)
  if (line.hidden) return null
  return (
    <li className="flex gap-2">
      <time dateTime={event.at} className="shrink-0 tabular-nums text-slate-400">
        {formatTime(event.at)}
      </time>
      <span className={`min-w-0 break-words ${TONE[line.tone] ?? TONE.info}`}>
        {event.step && <span className="text-slate-500">[{stepTitle(event.step)}] </span>}
        {line.progress !== undefined ? (
          <span className="inline-flex items-center gap-2">
            <progress max={100} value={line.progress} className="h-2 w-24" />
            {line.text}
          </span>
        ) : (
          line.text
        )}
      </span>
    </li>
  )
}

function RawLine({ event }) {
  return (
    <li className="break-all font-mono text-xs text-slate-700">
      <span className="text-slate-400">{event.at}</span> [{activityType(event)}]
      {event.step ? ` (${event.step})` : ''} {event.message}
    </li>
  )
}

/** The build's activity, newest first: as the client reads it, or raw (for diagnosing). */
export default function ActivityPanel({ activity }) {
  const [raw, setRaw] = useState(false)
  const events = activity ?? []
  return (
    <section aria-labelledby="activity-title" className="rounded-lg border border-slate-200 bg-white">
      <div className="flex items-center justify-between border-b border-slate-200 px-4 py-2">
        <h2 id="activity-title" className="font-semibold">
          Activity
        </h2>
        <button
          type="button"
          aria-pressed={raw}
          onClick={() => setRaw((value) => !value)}
          className="rounded border border-slate-300 px-2 py-0.5 text-xs font-medium text-slate-700 hover:bg-slate-50"
        >
          {raw ? 'Raw: on' : 'Raw: off'}
        </button>
      </div>
      {events.length === 0 ? (
        <p className="p-4 text-sm text-slate-500">No activity yet.</p>
      ) : (
        <ul aria-label={raw ? 'Raw activity' : 'Activity'} className="max-h-96 space-y-1 overflow-y-auto p-4 text-sm">
          {events.map((event, index) =>
            raw ? (
              <RawLine key={`${event.at}-${index}`} event={event} />
            ) : (
              <ReadableLine key={`${event.at}-${index}`} event={event} />
            ),
          )}
        </ul>
      )}
    </section>
  )
}
