import { useCallback, useEffect, useRef, useState } from 'react'

import { listUploads, uploadFile } from '../api/uploads.js'
import { uploadProblem } from './uploadRules.js'

// The API's messages say why in full (the field detail repeats it), storage's are wrapped.
function rejection(err) {
  return err?.message || 'The upload failed.'
}

/**
 * A session's uploads and the one being sent.
 *
 * Returns `{ uploads, listError, progress, busy, error, accepted, upload(file), reset() }`:
 * `progress` is 0..1 while the file is posted; `error` says why a file was refused (checked
 * here first, then by the server by its bytes); `accepted` is the last accepted upload.
 */
export function useUploads(sessionId) {
  const [uploads, setUploads] = useState([])
  const [listError, setListError] = useState(null)
  const [progress, setProgress] = useState(null)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState(null)
  const [accepted, setAccepted] = useState(null)
  const inFlight = useRef(null)

  useEffect(() => {
    if (!sessionId) return undefined
    const controller = new AbortController()
    listUploads(sessionId, { signal: controller.signal })
      .then((answer) => {
        if (!controller.signal.aborted) setUploads(answer?.uploads ?? [])
      })
      .catch((err) => {
        if (!controller.signal.aborted) setListError(err.message)
      })
    return () => controller.abort()
  }, [sessionId])

  useEffect(() => () => inFlight.current?.abort(), [])

  const upload = useCallback(
    async (file) => {
      const problem = uploadProblem(file)
      setAccepted(null)
      if (problem) {
        setError(problem)
        return null
      }
      const controller = new AbortController()
      inFlight.current = controller
      setError(null)
      setBusy(true)
      setProgress(0)
      try {
        const stored = await uploadFile({ sessionId, file, onProgress: setProgress, signal: controller.signal })
        setUploads((prev) => [...prev.filter((u) => u.upload_id !== stored.upload_id), stored])
        setAccepted(stored)
        return stored
      } catch (err) {
        if (err?.name !== 'AbortError') setError(rejection(err))
        return null
      } finally {
        setBusy(false)
        setProgress(null)
      }
    },
    [sessionId],
  )

  const reset = useCallback(() => {
    setError(null)
    setAccepted(null)
  }, [])

  return { uploads, listError, progress, busy, error, accepted, upload, reset }
}
