import { useCallback, useEffect, useRef, useState } from 'react'

import { ApiError } from '../../api/client.js'

// 4xx answers (other than 408/429) will not change by asking again: polling stops on them.
function worthRetrying(err) {
  if (!(err instanceof ApiError)) return true
  return err.status >= 500 || err.status === 408 || err.status === 429
}

/**
 * `load(signal)` now and then again and again, the next call only after the previous one
 * settled. `interval` is ms, null (once), or `(data) => ms | null` (e.g. stop once a build
 * ended); it is read before each wait, so changing it never starts over. A change of `load`
 * (keep it stable with useCallback) or `refresh()` asks again at once.
 * Returns `{data, error, loading, refresh}`.
 */
export function usePolling(load, { interval = null, enabled = true } = {}) {
  const [state, setState] = useState({ data: null, error: null, loading: true })
  const [tick, setTick] = useState(0)
  const intervalRef = useRef(interval)
  useEffect(() => {
    intervalRef.current = interval
  })

  useEffect(() => {
    if (!enabled) return undefined
    const controller = new AbortController()
    let timer = null
    async function run() {
      let again = true
      let data = null
      try {
        data = await load(controller.signal)
        if (controller.signal.aborted) return
        setState({ data, error: null, loading: false })
      } catch (err) {
        if (controller.signal.aborted || err?.name === 'AbortError') return
        setState((previous) => ({ ...previous, error: err, loading: false }))
        again = worthRetrying(err)
      }
      const wanted = intervalRef.current
      const wait = typeof wanted === 'function' ? wanted(data) : wanted
      if (again && wait) timer = setTimeout(run, wait)
    }
    run()
    return () => {
      controller.abort()
      clearTimeout(timer)
    }
  }, [load, enabled, tick])

  const refresh = useCallback(() => setTick((n) => n + 1), [])
  return { ...state, refresh }
}
