import { useCallback, useState } from 'react'
import { Link, useNavigate, useParams } from 'react-router-dom'

import { getSession, getStatus } from '../../api/admin.js'
import ActivityPanel from '../../components/admin/ActivityPanel.jsx'
import ChatPanel from '../../components/admin/ChatPanel.jsx'
import ExecutionHistory from '../../components/admin/ExecutionHistory.jsx'
import PanePanel from '../../components/admin/PanePanel.jsx'
import SessionActions from '../../components/admin/SessionActions.jsx'
import StatusBadge from '../../components/admin/StatusBadge.jsx'
import { useAdminToken } from '../../components/admin/useAdminToken.js'
import { usePolling } from '../../components/admin/usePolling.js'
import { isTerminal } from '../../lib/buildStatus.js'
import { STATUS, useRealtime, useRealtimeConnect, useRealtimeEvents } from '../../lib/realtime.js'

// Without an open socket the page polls REST; with one, events bring changes and REST is a
// slow safety net (and is asked again after every reconnect).
const POLL_MS = { session: 5000, status: 3000 }
const SAFETY_NET_MS = 30_000

function Header({ session }) {
  return (
    <div className="flex flex-wrap items-start justify-between gap-3">
      <div>
        <p className="text-sm">
          <Link to="/admin/sessions" className="text-sky-700 hover:underline">
            ← Sessions
          </Link>
        </p>
        <h1 className="mt-1 text-2xl font-semibold">{session.email ?? session.user_id}</h1>
        <p className="mt-1 flex flex-wrap items-center gap-2 text-sm text-slate-600">
          <StatusBadge status={session.status} />
          <span>{session.name}</span>
          {session.client_name && <span>· {session.client_name}</span>}
          {session.deployed_url && (
            <a href={session.deployed_url} className="text-sky-700 underline" target="_blank" rel="noreferrer">
              {session.deployed_url}
            </a>
          )}
        </p>
        <p className="mt-1 font-mono text-xs text-slate-500">
          user {session.user_id} · {session.session_id}
        </p>
      </div>
    </div>
  )
}

function ExecutionPicker({ executions, selected, onSelect }) {
  if (executions.length < 2) return null
  return (
    <label className="flex items-center gap-2 text-sm">
      Build
      <select
        value={selected}
        onChange={(event) => onSelect(event.target.value)}
        className="rounded-md border border-slate-300 px-2 py-1 font-mono text-xs"
      >
        {executions.map((execution) => (
          <option key={execution.execution_id} value={execution.execution_id}>
            {execution.execution_id} ({execution.mode}, {execution.status})
          </option>
        ))}
      </select>
    </label>
  )
}

/** One session: chat | activity side by side, the live pane, the build's history, actions. */
export default function SessionDetailPage() {
  const { sessionId } = useParams()
  const navigate = useNavigate()
  const token = useAdminToken()
  const realtime = useRealtime(token, [{ session_id: sessionId }])
  const live = realtime.status === STATUS.OPEN
  const [chatKey, setChatKey] = useState(0)
  const [picked, setPicked] = useState(null)

  const loadSession = useCallback((signal) => getSession(sessionId, { signal }), [sessionId])
  const session = usePolling(loadSession, { interval: live ? SAFETY_NET_MS : POLL_MS.session })
  const executionId = picked ?? session.data?.latest_execution_id ?? null

  const loadStatus = useCallback((signal) => getStatus(executionId, { signal }), [executionId])
  const statusPoll = (data) => (isTerminal(data?.status) ? null : live ? SAFETY_NET_MS : POLL_MS.status)
  const status = usePolling(loadStatus, { interval: statusPoll, enabled: Boolean(executionId) })
  const buildStatus = status.data?.execution_id === executionId ? status.data : null
  const refreshSession = session.refresh
  const refreshStatus = status.refresh

  useRealtimeEvents(realtime.client, (event) => {
    if (event.type === 'chat') setChatKey((n) => n + 1)
    else refreshStatus()
    if (event.type === 'execution' || event.type === 'deployed') refreshSession()
  })
  useRealtimeConnect(realtime.client, () => {
    refreshSession()
    refreshStatus()
    setChatKey((n) => n + 1)
  })

  function onDone(action, result) {
    if (action === 'delete-user') {
      navigate('/admin/sessions?filter=deleted')
      return
    }
    if (action === 'redeploy' && result?.execution_id) setPicked(result.execution_id)
    refreshSession()
    refreshStatus()
  }

  if (session.error && !session.data) {
    return (
      <p role="alert" className="text-red-700">
        {session.error.status === 404 ? 'There is no such session.' : session.error.message}
      </p>
    )
  }
  if (!session.data) return <p className="text-slate-500">Loading…</p>

  const record = session.data
  return (
    <div className="space-y-4">
      <Header session={record} />
      <SessionActions session={record} onDone={onDone} />
      <div className="grid gap-4 lg:grid-cols-2">
        <ChatPanel sessionId={sessionId} refreshKey={chatKey} interval={live ? SAFETY_NET_MS : 3000} />
        <ActivityPanel activity={buildStatus?.activity} />
      </div>
      <PanePanel sessionId={sessionId} />
      {executionId ? (
        <div className="space-y-2">
          <ExecutionPicker executions={record.executions ?? []} selected={executionId} onSelect={setPicked} />
          <ExecutionHistory key={executionId} executionId={executionId} />
        </div>
      ) : (
        <p className="text-sm text-slate-500">No build yet for this session.</p>
      )}
      {isTerminal(buildStatus?.status) ? null : (
        <p className="text-xs text-slate-400">{live ? 'Live updates on.' : 'Refreshing every few seconds.'}</p>
      )}
    </div>
  )
}
