import { useCallback, useState } from 'react'

import { getExecutionHistory } from '../../api/admin.js'
import StatusBadge from './StatusBadge.jsx'
import { usePolling } from './usePolling.js'

function Json({ label, payload }) {
  if (!payload) return null
  const text = typeof payload.value === 'string' ? payload.value : JSON.stringify(payload.value, null, 2)
  return (
    <div>
      <h4 className="text-xs font-semibold uppercase tracking-wide text-slate-500">
        {label}
        {payload.truncated && <span className="ml-2 normal-case text-amber-700">(truncated)</span>}
      </h4>
      <pre className="mt-1 max-h-72 overflow-auto rounded bg-slate-100 p-2 font-mono text-xs text-slate-800">{text}</pre>
    </div>
  )
}

function StateRun({ run }) {
  const duration = run.duration_seconds != null ? `${run.duration_seconds.toFixed(2)} s` : ''
  return (
    <li>
      <details className="rounded-md border border-slate-200 bg-white" data-state={run.name}>
        <summary className="flex cursor-pointer flex-wrap items-center gap-2 px-3 py-2 text-sm">
          <span className="font-mono font-medium">{run.name}</span>
          <span className="text-xs text-slate-500">{run.type}</span>
          <StatusBadge status={run.status} />
          {run.attempts > 1 && <span className="text-xs text-amber-700">{run.attempts} attempts</span>}
          <span className="ml-auto text-xs tabular-nums text-slate-500">{duration}</span>
        </summary>
        <div className="space-y-3 border-t border-slate-200 p-3">
          <p className="text-xs text-slate-500">
            Entered {run.entered_at}
            {run.exited_at && ` · exited ${run.exited_at}`}
            {run.resource && ` · ${run.resource}`}
          </p>
          {run.failures.length > 0 && (
            <ul className="space-y-1">
              {run.failures.map((failure) => (
                <li key={failure.at} className="rounded bg-red-50 p-2 text-xs text-red-900">
                  <span className="font-mono font-semibold">{failure.error}</span>
                  {failure.retried && <span className="ml-2 text-amber-800">(retried)</span>}
                  {failure.cause && <p className="mt-1 whitespace-pre-wrap break-words">{failure.cause}</p>}
                </li>
              ))}
            </ul>
          )}
          <div className="grid gap-3 lg:grid-cols-2">
            <Json label="Input" payload={run.input} />
            <Json label="Output" payload={run.output} />
          </div>
          <Json label="Task parameters" payload={run.parameters} />
          <details>
            <summary className="cursor-pointer text-xs text-slate-600">Events ({run.events.length})</summary>
            <table className="mt-1 w-full text-left text-xs">
              <thead className="text-slate-500">
                <tr>
                  <th className="pr-2">ID</th>
                  <th className="pr-2">Type</th>
                  <th>Time</th>
                </tr>
              </thead>
              <tbody>
                {run.events.map((event) => (
                  <tr key={event.id} className="font-mono">
                    <td className="pr-2">{event.id}</td>
                    <td className="pr-2">{event.type}</td>
                    <td>{event.at}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </details>
        </div>
      </details>
    </li>
  )
}

/**
 * A build's Step Functions history, one collapsible entry per state run (input, output, task
 * parameters, failures and raw events), refreshed while the execution runs.
 */
export default function ExecutionHistory({ executionId, interval = 5000 }) {
  const load = useCallback((signal) => getExecutionHistory(executionId, {}, { signal }), [executionId])
  // Refreshed while the execution runs; an ended one does not change any more.
  const first = usePolling(load, { interval: (data) => (data?.status === 'RUNNING' ? interval : null) })
  const [more, setMore] = useState({ states: [], next: undefined })
  const [moreError, setMoreError] = useState(null)
  const next = more.next === undefined ? first.data?.next_cursor : more.next

  async function loadMore() {
    try {
      const page = await getExecutionHistory(executionId, { cursor: next })
      setMore((current) => ({ states: [...current.states, ...page.states], next: page.next_cursor }))
    } catch (err) {
      setMoreError(err.message)
    }
  }

  const history = first.data
  const error = moreError ?? first.error?.message
  return (
    <section aria-labelledby="history-title" className="rounded-lg border border-slate-200 bg-white">
      <div className="flex flex-wrap items-center justify-between gap-2 border-b border-slate-200 px-4 py-2">
        <h2 id="history-title" className="font-semibold">
          Execution history
        </h2>
        <span className="flex items-center gap-2 font-mono text-xs text-slate-500">
          {executionId}
          {history?.status && <StatusBadge status={history.status} />}
        </span>
      </div>
      {error && (
        <p role="alert" className="px-4 pt-2 text-sm text-red-700">
          {error}
        </p>
      )}
      {!history && !error && <p className="p-4 text-sm text-slate-500">Loading…</p>}
      {history && (
        <ol aria-label="States" className="space-y-2 p-4">
          {[...history.states, ...more.states].map((run, index) => (
            <StateRun key={`${run.name}-${run.entered_at}-${index}`} run={run} />
          ))}
        </ol>
      )}
      {history && next && (
        <div className="px-4 pb-4">
          <button
            type="button"
            onClick={loadMore}
            className="rounded border border-slate-300 px-3 py-1 text-sm text-slate-700 hover:bg-slate-50"
          >
            Load more states
          </button>
        </div>
      )}
    </section>
  )
}
