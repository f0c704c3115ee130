import { useCallback, useState } from 'react'
import { Link, useSearchParams } from 'react-router-dom'

import { listSessions } from '../../api/admin.js'
import StatusBadge from '../../components/admin/StatusBadge.jsx'
import { usePolling } from '../../components/admin/usePolling.js'
import { formatDate } from '../../lib/projects.js'

const FILTERS = [
  ['all', 'All'],
  ['active', 'Active'],
  ['completed', 'Completed'],
  ['deleted', 'Deleted'],
]
const PAGE_SIZE = 20

/** Every session, newest first: filter tabs, search over e-mail and names, cursor pages. */
export default function SessionsPage() {
  const [params, setParams] = useSearchParams()
  const filter = FILTERS.some(([key]) => key === params.get('filter')) ? params.get('filter') : 'all'
  const q = params.get('q') ?? ''
  const [search, setSearch] = useState(q)
  // The cursors of the pages before this one (for Previous), and this page's.
  const [cursors, setCursors] = useState({ key: '', stack: [], current: null })
  const listKey = `${filter}|${q}`
  const paging = cursors.key === listKey ? cursors : { key: listKey, stack: [], current: null }

  const cursor = paging.current
  const load = useCallback(
    (signal) => listSessions({ filter, q, cursor, limit: PAGE_SIZE }, { signal }),
    [filter, q, cursor],
  )
  const { data, error, loading } = usePolling(load, { interval: 10_000 })

  function choose(next) {
    const updated = new URLSearchParams(params)
    for (const [key, value] of Object.entries(next)) {
      if (value && !(key === 'filter' && value === 'all')) updated.set(key, value)
      else updated.delete(key)
    }
    setParams(updated)
  }

  function onSearch(event) {
    event.preventDefault()
    choose({ q: search.trim() })
  }

  const sessions = data?.sessions ?? []
  return (
    <div className="space-y-4">
      <div className="flex flex-wrap items-center justify-between gap-3">
        <h1 className="text-2xl font-semibold">Sessions</h1>
        <Link
          to="/admin/sessions/new"
          className="rounded-md bg-sky-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-sky-700"
        >
          New session
        </Link>
      </div>
      <div className="flex flex-wrap items-center justify-between gap-3">
        <div role="tablist" aria-label="Filter sessions" className="flex gap-1 rounded-lg bg-slate-200 p-1">
          {FILTERS.map(([key, label]) => (
            <button
              key={key}
              type="button"
              role="tab"
              aria-selected={filter === key}
              onClick={() => choose({ filter: key })}
              className={`rounded-md px-3 py-1 text-sm font-medium ${filter === key ? 'bg-white shadow' : 'text-slate-600 hover:text-slate-900'}`}
            >
              {label}
            </button>
          ))}
        </div>
        <form role="search" onSubmit={onSearch} className="flex gap-2">
          <label htmlFor="session-search" className="sr-only">
            Search sessions
          </label>
          <input
            id="session-search"
            type="search"
            value={search}
            maxLength={100}
            onChange={(event) => setSearch(event.target.value)}
            placeholder="E-mail or name"
            className="rounded-md border border-slate-300 px-3 py-1.5 text-sm"
          />
          <button type="submit" className="rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm">
            Search
          </button>
        </form>
      </div>
      {error && (
        <p role="alert" className="text-sm text-red-700">
          {error.message}
        </p>
      )}
      <div className="overflow-x-auto rounded-lg border border-slate-200 bg-white">
        <table className="w-full text-left text-sm">
          <thead className="border-b border-slate-200 bg-slate-50 text-xs uppercase text-slate-500">
            <tr>
              <th className="px-3 py-2">User</th>
              <th className="px-3 py-2">Site</th>
              <th className="px-3 py-2">Status</th>
              <th className="px-3 py-2">Created</th>
              <th className="px-3 py-2">
                <span className="sr-only">Open</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {!loading && sessions.length === 0 && (
              <tr>
                <td colSpan={5} className="px-3 py-6 text-center text-slate-500">
                  No sessions here.
                </td>
              </tr>
            )}
            {sessions.map((s) => (
              <tr key={s.session_id} className="border-b border-slate-100 last:border-0">
                <td className="px-3 py-2">
                  <div className="font-medium">{s.email ?? s.user_id}</div>
                  {s.client_name && <div className="text-xs text-slate-500">{s.client_name}</div>}
                </td>
                <td className="px-3 py-2">
                  <div>{s.name}</div>
                  {s.deployed_url && <div className="text-xs text-slate-500">{s.deployed_url}</div>}
                </td>
                <td className="px-3 py-2">
                  <StatusBadge status={s.status} />
                </td>
                <td className="px-3 py-2 text-slate-600">{formatDate(s.created_at)}</td>
                <td className="px-3 py-2 text-right">
                  <Link
                    to={`/admin/sessions/${encodeURIComponent(s.session_id)}`}
                    className="font-medium text-sky-700 hover:underline"
                    aria-label={`Open the session of ${s.email ?? s.user_id}`}
                  >
                    Open
                  </Link>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <nav aria-label="Pages" className="flex justify-between">
        <button
          type="button"
          disabled={paging.stack.length === 0}
          onClick={() =>
            setCursors({ key: listKey, stack: paging.stack.slice(0, -1), current: paging.stack.at(-1) ?? null })
          }
          className="rounded border border-slate-300 bg-white px-3 py-1 text-sm disabled:opacity-40"
        >
          Previous
        </button>
        <button
          type="button"
          disabled={!data?.next_cursor}
          onClick={() =>
            setCursors({ key: listKey, stack: [...paging.stack, paging.current], current: data.next_cursor })
          }
          className="rounded border border-slate-300 bg-white px-3 py-1 text-sm disabled:opacity-40"
        >
          Next
        </button>
      </nav>
    </div>
  )
}
