// What the portal checks before an upload starts. It mirrors FILE_TYPES and MAX_UPLOAD_BYTES of
// control_plane/uploads.py so most mistakes are caught at once; the server checks the bytes.

export const MAX_UPLOAD_BYTES = 10 * 1024 * 1024
export const ALLOWED_EXTENSIONS = ['jpg', 'jpeg', 'png', 'pdf', 'doc', 'docx', 'txt']
export const ACCEPT = ALLOWED_EXTENSIONS.map((ext) => `.${ext}`).join(',')

export function extensionOf(name) {
  const match = /\.([^./\\]+)$/.exec(String(name ?? ''))
  return match ? match[1].toLowerCase() : ''
}

/** "512 B", "12.5 KB", "3.2 MB". */
export function formatBytes(bytes) {
  const n = Number(bytes) || 0
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`
  return `${(n / (1024 * 1024)).toFixed(1)} MB`
}

/** Why `file` cannot be uploaded, or null. */
export function uploadProblem(file) {
  if (!file) return 'Choose a file first.'
  const ext = extensionOf(file.name)
  if (!ALLOWED_EXTENSIONS.includes(ext)) {
    const shown = ext ? `.${ext} files` : 'Files without an extension'
    return `${shown} cannot be uploaded. Use JPG, PNG, PDF, DOC, DOCX or TXT.`
  }
  if (file.size <= 0) return 'This file is empty.'
  if (file.size > MAX_UPLOAD_BYTES) {
    return `This file is too large (${formatBytes(file.size)}); the limit is ${formatBytes(MAX_UPLOAD_BYTES)}.`
  }
  return null
}

/** Images get a preview before they are sent. */
export function isPreviewableImage(file) {
  return ['jpg', 'jpeg', 'png'].includes(extensionOf(file?.name))
}
