import { useCallback, useEffect, useState } from 'react'

import { ApiError } from '../api/client.js'
import { listClientProjects } from '../api/projects.js'

const LOADING = { projects: null, loading: true, problem: null }

/** Why the list could not be shown: `unauthorized` (401), `network`, or `failed` (anything else). */
function problemOf(err) {
  if (err instanceof ApiError) return err.status === 401 ? 'unauthorized' : 'failed'
  return 'network'
}

/**
 * Load GET /api/client/projects once; `reload()` asks again.
 *
 * Returns `{ projects, loading, problem, message, reload }`.
 */
export function useClientProjects() {
  const [state, setState] = useState(LOADING)
  const [attempt, setAttempt] = useState(0)

  useEffect(() => {
    const controller = new AbortController()
    listClientProjects({ signal: controller.signal })
      .then((data) => {
        if (controller.signal.aborted) return
        setState({ projects: data?.projects ?? [], loading: false, problem: null })
      })
      .catch((err) => {
        if (controller.signal.aborted) return
        setState({ projects: null, loading: false, problem: problemOf(err), message: err.message })
      })
    return () => controller.abort()
  }, [attempt])

  const reload = useCallback(() => {
    setState(LOADING)
    setAttempt((n) => n + 1)
  }, [])

  return { ...state, reload }
}
