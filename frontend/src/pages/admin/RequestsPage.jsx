import { useCallback, useState } from 'react'
import { Link } from 'react-router-dom'

import { approveRequest, listRequests, rejectRequest } from '../../api/admin.js'
import StatusBadge from '../../components/admin/StatusBadge.jsx'
import { usePolling } from '../../components/admin/usePolling.js'
import { formatDate } from '../../lib/projects.js'

const STATUSES = [
  ['pending', 'Pending'],
  ['approved', 'Approved'],
  ['rejected', 'Rejected'],
  ['all', 'All'],
]

function RequestItem({ request, onDecided }) {
  const [rejecting, setRejecting] = useState(false)
  const [reason, setReason] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState(null)

  async function decide(action) {
    setBusy(true)
    setError(null)
    try {
      await action()
      onDecided()
    } catch (err) {
      setError(err.message)
    } finally {
      setBusy(false)
    }
  }

  return (
    <li className="rounded-lg border border-slate-200 bg-white p-4" aria-label={`Request from ${request.email}`}>
      <div className="flex flex-wrap items-baseline justify-between gap-2">
        <div>
          <span className="font-medium">{request.name}</span> <span className="text-slate-600">{request.email}</span>
          {request.phone && <span className="ml-2 text-sm text-slate-500">{request.phone}</span>}
        </div>
        <div className="flex items-center gap-2 text-xs text-slate-500">
          {formatDate(request.created_at)} <StatusBadge status={request.status} />
        </div>
      </div>
      <p className="mt-2 whitespace-pre-wrap break-words text-sm text-slate-800">{request.initial_request}</p>
      <p className="mt-1 text-xs text-slate-500">
        {request.host_provider} · {request.site_type}
        {request.reason && ` · reason: ${request.reason}`}
      </p>
      {request.session_id && (
        <Link to={`/admin/sessions/${encodeURIComponent(request.session_id)}`} className="mt-2 inline-block text-sm text-sky-700">
          Open the session
        </Link>
      )}
      {request.status === 'pending' && (
        <div className="mt-3 flex flex-wrap items-end gap-2">
          <button
            type="button"
            disabled={busy}
            onClick={() => decide(() => approveRequest(request.request_id))}
            className="rounded-md bg-green-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-green-700 disabled:opacity-50"
          >
            Approve
          </button>
          {!rejecting ? (
            <button
              type="button"
              disabled={busy}
              onClick={() => setRejecting(true)}
              className="rounded-md border border-slate-300 px-3 py-1.5 text-sm font-medium text-slate-700"
            >
              Reject
            </button>
          ) : (
            <>
              <label className="text-sm">
                <span className="sr-only">Reason</span>
                <input
                  value={reason}
                  maxLength={500}
                  onChange={(event) => setReason(event.target.value)}
                  placeholder="Reason (optional)"
                  className="rounded-md border border-slate-300 px-2 py-1.5 text-sm"
                />
              </label>
              <button
                type="button"
                disabled={busy}
                onClick={() => decide(() => rejectRequest(request.request_id, reason))}
                className="rounded-md bg-red-600 px-3 py-1.5 text-sm font-medium text-white disabled:opacity-50"
              >
                Confirm rejection
              </button>
            </>
          )}
        </div>
      )}
      {error && (
        <p role="alert" className="mt-2 text-sm text-red-700">
          {error}
        </p>
      )}
    </li>
  )
}

/** Onboarding requests from the public form: approve (starts the build) or reject. */
export default function RequestsPage() {
  const [status, setStatus] = useState('pending')
  const [cursor, setCursor] = useState({ status: 'pending', stack: [], current: null })
  const paging = cursor.status === status ? cursor : { status, stack: [], current: null }
  const current = paging.current
  const load = useCallback(
    (signal) => listRequests({ status, cursor: current }, { signal }),
    [status, current],
  )
  const { data, error, loading, refresh } = usePolling(load, { interval: 15_000 })
  const requests = data?.requests ?? []
  return (
    <div className="space-y-4">
      <h1 className="text-2xl font-semibold">Onboarding requests</h1>
      <div role="tablist" aria-label="Filter requests" className="inline-flex gap-1 rounded-lg bg-slate-200 p-1">
        {STATUSES.map(([key, label]) => (
          <button
            key={key}
            type="button"
            role="tab"
            aria-selected={status === key}
            onClick={() => setStatus(key)}
            className={`rounded-md px-3 py-1 text-sm font-medium ${status === key ? 'bg-white shadow' : 'text-slate-600'}`}
          >
            {label}
          </button>
        ))}
      </div>
      {error && (
        <p role="alert" className="text-sm text-red-700">
          {error.message}
        </p>
      )}
      {!loading && requests.length === 0 && <p className="text-sm text-slate-500">No requests here.</p>}
      <ul className="space-y-3">
        {requests.map((request) => (
          <RequestItem key={request.request_id} request={request} onDecided={refresh} />
        ))}
      </ul>
      <nav aria-label="Pages" className="flex justify-between">
        <button
          type="button"
          disabled={paging.stack.length === 0}
          onClick={() => setCursor({ status, stack: paging.stack.slice(0, -1), current: paging.stack.at(-1) ?? null })}
          className="rounded border border-slate-300 bg-white px-3 py-1 text-sm disabled:opacity-40"
        >
          Previous
        </button>
        <button
          type="button"
          disabled={!data?.next_cursor}
          onClick={() => setCursor({ status, stack: [...paging.stack, paging.current], current: data.next_cursor })}
          className="rounded border border-slate-300 bg-white px-3 py-1 text-sm disabled:opacity-40"
        >
          Next
        </button>
      </nav>
    </div>
  )
}
