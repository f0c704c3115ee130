import { useEffect, useState } from 'react'

import { getProjectHistory } from '../api/builds.js'

/**
 * The builds of a project (GET /api/client/projects/{sessionId}/history), asked again whenever
 * `version` changes (the page passes the shown build's status, so a build that ends or starts
 * shows up). An error leaves the list empty: it is a convenience next to the build itself.
 */
export function useProjectHistory(sessionId, version) {
  const [executions, setExecutions] = useState(null)
  useEffect(() => {
    if (!sessionId) return undefined
    const controller = new AbortController()
    getProjectHistory(sessionId, { signal: controller.signal })
      .then((answer) => {
        if (!controller.signal.aborted) setExecutions(answer?.executions ?? [])
      })
      .catch(() => {})
    return () => controller.abort()
  }, [sessionId, version])
  return executions
}
