import { Link } from 'react-router-dom'

import { formatDate, statusLabel } from '../lib/projects.js'

/** Every build and redeploy of the project, newest first; the one shown is marked. */
export default function BuildHistory({ executions, currentId }) {
  if (!executions || executions.length < 2) return null
  return (
    <div className="space-y-1 border-t border-slate-100 pt-3">
      <h3 className="text-sm font-medium text-slate-700">Builds of this site</h3>
      <ol aria-label="Builds of this site" className="space-y-1 text-sm">
      {executions.map((e) => {
        const current = e.execution_id === currentId
        const label = `${e.mode === 'redeploy' ? 'Redeploy' : 'Build'} · ${statusLabel(e.status)}`
        return (
          <li key={e.execution_id} className="flex flex-wrap items-baseline justify-between gap-2">
            {current ? (
              <span className="font-medium" aria-current="page">
                {label} (shown)
              </span>
            ) : (
              <Link to={`/status/${encodeURIComponent(e.execution_id)}`} className="text-sky-700 underline hover:text-sky-900">
                {label}
              </Link>
            )}
            <span className="text-xs text-slate-500">
              {formatDate(e.started_at)} {e.started_at && new Date(e.started_at).toLocaleTimeString()}
            </span>
          </li>
        )
      })}
      </ol>
    </div>
  )
}
