import { useCallback, useEffect, useReducer, useRef } from 'react'

import { getBuildStatus } from '../api/builds.js'
import { ApiError } from '../api/client.js'
import { POLL_INTERVAL_MS, isTerminal } from './buildStatus.js'
import { applyBuildEvent, needsRefresh } from './liveBuild.js'
import { STATUS, useRealtimeConnect, useRealtimeEvents } from './realtime.js'

const INITIAL = { data: null, loading: true, blocked: null, failure: null, retrying: null }

// Answers that end polling and replace the page: asking again will not change them.
export const BLOCKED_BY_STATUS = {
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
}

// Events often come in bursts (a step ends, the next starts): one REST answer covers them.
export const REFRESH_DEBOUNCE_MS = 250

// 5xx, 408 and 429 are worth another try; other 4xx answers will not change by asking again.
function isTransient(err) {
  if (!(err instanceof ApiError)) return true
  return err.status >= 500 || err.status === 408 || err.status === 429
}

function reducer(state, action) {
  switch (action.type) {
    case 'loaded':
      return { ...INITIAL, data: action.data, loading: false }
    case 'blocked':
      return { ...INITIAL, loading: false, blocked: action.blocked }
    case 'failed':
      return { ...state, loading: false, retrying: null, failure: action.message }
    case 'retrying':
      return { ...state, loading: false, retrying: action.message }
    case 'event': {
      const data = applyBuildEvent(state.data, action.event)
      return data === state.data ? state : { ...state, data }
    }
    default:
      return state
  }
}

/**
 * The status of one build, live.
 *
 * With a realtime connection (`realtime` from {@link useRealtime}) that is open, events update
 * the status as they come and REST is asked again after every (re)connect and after events it
 * must complete (steps, the screenshot, the end). Without one (no socket on this deployment,
 * or while reconnecting), GET /api/status/{executionId} is polled every `interval` ms, the next
 * request only after the previous one settled. Everything stops on a terminal status, on
 * 401/403/404 (`blocked` names which), on other non-transient errors and on unmount.
 */
export function useBuildStatus(executionId, { interval = POLL_INTERVAL_MS, realtime = null } = {}) {
  const [state, dispatch] = useReducer(reducer, INITIAL)
  const live = realtime?.status === STATUS.OPEN
  const stopped = Boolean(isTerminal(state.data?.status) || state.blocked || state.failure)

  // Asks once; says whether asking again later makes sense.
  const fetchStatus = useCallback(
    async (signal) => {
      try {
        const data = await getBuildStatus(executionId, { signal })
        if (signal.aborted) return false
        dispatch({ type: 'loaded', data })
        return !isTerminal(data?.status)
      } catch (err) {
        if (signal.aborted) return false
        const blocked = err instanceof ApiError ? BLOCKED_BY_STATUS[err.status] : undefined
        if (blocked) {
          dispatch({ type: 'blocked', blocked })
          return false
        }
        if (!isTransient(err)) {
          dispatch({ type: 'failed', message: err.message })
          return false
        }
        dispatch({ type: 'retrying', message: err.message })
        return true
      }
    },
    [executionId],
  )

  // Polling, whenever there is no open socket to bring the changes.
  const polling = !live && !stopped
  useEffect(() => {
    if (!polling) return undefined
    const controller = new AbortController()
    let timer = null
    async function poll() {
      const again = await fetchStatus(controller.signal)
      if (again && !controller.signal.aborted) timer = setTimeout(poll, interval)
    }
    poll()
    return () => {
      controller.abort()
      clearTimeout(timer)
    }
  }, [polling, fetchStatus, interval])

  // One REST refresh at a time, for the socket's reconnects and events.
  const refresh = useRef({ timer: null, controller: null })
  const refreshSoon = useCallback(
    (delay) => {
      clearTimeout(refresh.current.timer)
      refresh.current.timer = setTimeout(() => {
        refresh.current.controller?.abort()
        const controller = new AbortController()
        refresh.current.controller = controller
        fetchStatus(controller.signal)
      }, delay)
    },
    [fetchStatus],
  )
  useEffect(() => {
    const pending = refresh.current
    return () => {
      clearTimeout(pending.timer)
      pending.controller?.abort()
    }
  }, [])

  useRealtimeConnect(realtime?.client, () => {
    if (!state.blocked) refreshSoon(0)
  })
  useRealtimeEvents(realtime?.client, (event) => {
    if (state.blocked || (event.execution_id && event.execution_id !== executionId)) return
    dispatch({ type: 'event', event })
    if (needsRefresh(event)) refreshSoon(REFRESH_DEBOUNCE_MS)
  })

  return { ...state, live }
}
