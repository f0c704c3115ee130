// Uploads go straight to storage: the API presigns a POST (`/api/upload`), the browser posts
// the file to it with XHR (fetch has no upload progress), then the API checks the stored bytes
// (`/api/upload/{id}/complete`) and keeps or deletes the file.

import { apiRequest } from './client.js'

/** The presigned POST refused the file, or it could not be sent. */
export class UploadError extends Error {
  constructor(message, { status = 0 } = {}) {
    super(message)
    this.name = 'UploadError'
    this.status = status
  }
}

/** POST /api/upload: the ticket `{upload_id, url, fields, max_bytes, ...}` for one file. */
export function startUpload({ sessionId, file }) {
  // The server takes the type from the extension when none is declared; browsers disagree on
  // the types of .doc and .txt files, and the stored bytes are checked anyway.
  return apiRequest('/api/upload', {
    method: 'POST',
    body: { session_id: sessionId, filename: file.name, content_type: '', size: file.size },
  })
}

/** POST /api/upload/{uploadId}/complete: the accepted upload, or an ApiError saying why not. */
export function completeUpload(uploadId) {
  return apiRequest(`/api/upload/${encodeURIComponent(uploadId)}/complete`, { method: 'POST' })
}

/** GET /api/uploads?session_id=...: the session's accepted uploads. */
export function listUploads(sessionId, { signal } = {}) {
  return apiRequest(`/api/uploads?session_id=${encodeURIComponent(sessionId)}`, { signal })
}

/** The `<Message>` of an S3 XML error body, if any. */
export function storageErrorMessage(body) {
  const match = /<Message>([\s\S]*?)<\/Message>/.exec(String(body ?? ''))
  return match ? match[1].trim() : null
}

/**
 * Post `file` to a presigned POST: every field of the ticket, then the file last.
 * `onProgress(fraction)` follows the upload (0..1). Resolves when storage accepted it.
 */
export function postToStorage(ticket, file, { onProgress, signal } = {}) {
  return new Promise((resolve, reject) => {
    const form = new FormData()
    for (const [name, value] of Object.entries(ticket.fields ?? {})) form.append(name, value)
    form.append('file', file)
    const xhr = new XMLHttpRequest()
    xhr.open('POST', ticket.url)
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable && event.total > 0) onProgress?.(event.loaded / event.total)
    }
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress?.(1)
        resolve()
        return
      }
      const detail = storageErrorMessage(xhr.responseText)
      reject(new UploadError(detail ? `Storage refused the file: ${detail}` : `Storage refused the file (HTTP ${xhr.status}).`, { status: xhr.status }))
    }
    xhr.onerror = () => reject(new UploadError('The file could not be sent. Check your connection and try again.'))
    xhr.onabort = () => reject(new DOMException('The upload was cancelled.', 'AbortError'))
    signal?.addEventListener('abort', () => xhr.abort(), { once: true })
    xhr.send(form)
  })
}

/** The whole upload: ticket, post with progress, check. Resolves with the accepted upload. */
export async function uploadFile({ sessionId, file, onProgress, signal }) {
  const ticket = await startUpload({ sessionId, file })
  await postToStorage(ticket, file, { onProgress, signal })
  return completeUpload(ticket.upload_id)
}
