import { useEffect, useState } from 'react'

import { getBuildStatus } from '../api/builds.js'
import { ApiError } from '../api/client.js'
import { POLL_INTERVAL_MS, isTerminal } from './buildStatus.js'

const INITIAL = { data: null, loading: true, blocked: null, failure: null, retrying: null }

// Answers that end polling and replace the page: asking again will not change them.
export const BLOCKED_BY_STATUS = {
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
}

// 5xx, 408 and 429 are worth another try; other 4xx answers will not change by asking again.
function isTransient(err) {
  if (!(err instanceof ApiError)) return true
  return err.status >= 500 || err.status === 408 || err.status === 429
}

/**
 * Poll GET /api/status/{executionId} until the build succeeds or fails.
 *
 * The next request is scheduled only after the previous one settled, so slow answers never
 * pile up. Polling stops on a terminal status, on 401/403/404 (`blocked` names which), on
 * other non-transient errors and on unmount. Give the component a `key` of the id to start over when the id changes.
 */
export function useBuildStatus(executionId, { interval = POLL_INTERVAL_MS } = {}) {
  const [state, setState] = useState(INITIAL)

  useEffect(() => {
    const controller = new AbortController()
    let timer = null

    async function poll() {
      try {
        const data = await getBuildStatus(executionId, { signal: controller.signal })
        if (controller.signal.aborted) return
        setState({ ...INITIAL, data, loading: false })
        if (isTerminal(data?.status)) return
      } catch (err) {
        if (controller.signal.aborted) return
        const blocked = err instanceof ApiError ? BLOCKED_BY_STATUS[err.status] : undefined
        if (blocked) {
          setState({ ...INITIAL, loading: false, blocked })
          return
        }
        if (!isTransient(err)) {
          setState((prev) => ({ ...prev, loading: false, retrying: null, failure: err.message }))
          return
        }
        setState((prev) => ({ ...prev, loading: false, retrying: err.message }))
      }
      timer = setTimeout(poll, interval)
    }

    poll()
    return () => {
      controller.abort()
      clearTimeout(timer)
    }
  }, [executionId, interval])

  return state
}
