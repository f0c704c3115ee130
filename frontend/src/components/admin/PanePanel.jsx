import { useCallback } from 'react'

import { getPane } from '../../api/admin.js'
import { usePolling } from './usePolling.js'

export const PANE_POLL_MS = 2000

function describeCapture(pane) {
  if (!pane?.captured_at) return 'Nothing captured yet: the AI has not worked in this session.'
  const age = Math.round(pane.age_seconds ?? 0)
  const live = String(pane.source ?? '').startsWith('live:')
  return `${live ? 'Live, during a turn' : 'After the last turn'} · captured ${age} s ago`
}

/** The user's tmux pane, read-only, refreshed every 2 s (the agent uploads it while turns run). */
export default function PanePanel({ sessionId, interval = PANE_POLL_MS }) {
  const load = useCallback((signal) => getPane(sessionId, { signal }), [sessionId])
  const { data, error } = usePolling(load, { interval })
  return (
    <section aria-labelledby="pane-title" className="rounded-lg border border-slate-200 bg-white">
      <div className="flex flex-wrap items-baseline justify-between gap-2 border-b border-slate-200 px-4 py-2">
        <h2 id="pane-title" className="font-semibold">
          tmux pane <span className="text-xs font-normal text-slate-500">(read-only)</span>
        </h2>
        <span className="text-xs text-slate-500">{describeCapture(data)}</span>
      </div>
      {error && (
        <p role="alert" className="px-4 pt-2 text-sm text-red-700">
          {error.message}
        </p>
      )}
      <pre
        aria-label="Pane text"
        className="max-h-[32rem] overflow-auto bg-slate-950 p-3 font-mono text-xs leading-snug text-slate-100"
      >
        {data?.text || ' '}
      </pre>
    </section>
  )
}
