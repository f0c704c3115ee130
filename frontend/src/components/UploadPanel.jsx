import { useEffect, useId, useState } from 'react'

import { ACCEPT, MAX_UPLOAD_BYTES, formatBytes, isPreviewableImage, uploadProblem } from '../lib/uploadRules.js'
import Notice from './Notice.jsx'

/** A data: URL of an image file for its preview (read in the browser, never uploaded for it). */
function usePreviewUrl(file) {
  const [preview, setPreview] = useState({ file: null, url: null })
  useEffect(() => {
    if (!file || !isPreviewableImage(file)) return undefined
    const reader = new FileReader()
    reader.onload = () => setPreview({ file, url: String(reader.result) })
    reader.readAsDataURL(file)
    return () => reader.abort()
  }, [file])
  return preview.file === file ? preview.url : null
}

function ProgressBar({ fraction }) {
  const percent = Math.round((fraction ?? 0) * 100)
  return (
    <div className="space-y-1">
      <div
        role="progressbar"
        aria-label="Upload progress"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
        className="h-2 overflow-hidden rounded bg-slate-200"
      >
        <div className="h-full bg-sky-600 transition-[width]" style={{ width: `${percent}%` }} />
      </div>
      <p className="text-xs tabular-nums text-slate-500">Uploading… {percent}%</p>
    </div>
  )
}

function DropZone({ inputId, onFile, disabled }) {
  const [over, setOver] = useState(false)
  return (
    <div
      onDragOver={(e) => {
        e.preventDefault()
        setOver(true)
      }}
      onDragLeave={() => setOver(false)}
      onDrop={(e) => {
        e.preventDefault()
        setOver(false)
        if (!disabled && e.dataTransfer?.files?.[0]) onFile(e.dataTransfer.files[0])
      }}
      className={`rounded-md border-2 border-dashed px-3 py-4 text-center text-sm ${
        over ? 'border-sky-500 bg-sky-50' : 'border-slate-300 bg-white'
      }`}
    >
      <label htmlFor={inputId} className="cursor-pointer font-medium text-sky-700 underline">
        Choose a file
      </label>{' '}
      <span className="text-slate-600">or drop it here</span>
      <p className="mt-1 text-xs text-slate-500">
        JPG, PNG, PDF, DOC, DOCX or TXT, up to {formatBytes(MAX_UPLOAD_BYTES)}.
      </p>
    </div>
  )
}

function UploadedList({ uploads }) {
  if (uploads.length === 0) return null
  return (
    <ul aria-label="Uploaded files" className="space-y-1 text-sm">
      {uploads.map((u) => (
        <li key={u.upload_id} className="flex justify-between gap-2">
          <span className="min-w-0 truncate">{u.display_name}</span>
          <span className="shrink-0 tabular-nums text-slate-500">{formatBytes(u.size)}</span>
        </li>
      ))}
    </ul>
  )
}

/** Files for the AI to build from (`uploads` from {@link useUploads}). */
export default function UploadPanel({ uploads }) {
  const inputId = useId()
  const [file, setFile] = useState(null)
  const preview = usePreviewUrl(file)
  const problem = file ? uploadProblem(file) : null

  function choose(next) {
    uploads.reset()
    setFile(next ?? null)
  }

  async function send() {
    if (await uploads.upload(file)) setFile(null)
  }

  return (
    <div className="space-y-3">
      <input
        id={inputId}
        type="file"
        accept={ACCEPT}
        aria-label="File to upload"
        className="sr-only"
        disabled={uploads.busy}
        onChange={(e) => {
          choose(e.target.files?.[0])
          e.target.value = ''
        }}
      />
      <DropZone inputId={inputId} onFile={choose} disabled={uploads.busy} />
      {file && (
        <div className="flex items-start gap-3 rounded-md border border-slate-200 p-2">
          {preview && (
            <img
              src={preview}
              alt={`Preview of ${file.name}`}
              className="h-16 w-16 rounded object-cover"
              // A file named .png that is no image: no broken picture, the check will say why.
              onError={(e) => {
                e.currentTarget.hidden = true
              }}
            />
          )}
          <div className="min-w-0 flex-1 space-y-2">
            <p className="truncate text-sm font-medium">{file.name}</p>
            <p className="text-xs text-slate-500">{formatBytes(file.size)}</p>
            {uploads.busy ? (
              <ProgressBar fraction={uploads.progress} />
            ) : (
              <div className="flex gap-2">
                <button
                  type="button"
                  onClick={send}
                  disabled={Boolean(problem)}
                  className="rounded-md bg-sky-600 px-3 py-1.5 text-sm font-semibold text-white hover:bg-sky-700 disabled:cursor-not-allowed disabled:bg-slate-400"
                >
                  Upload
                </button>
                <button
                  type="button"
                  onClick={() => choose(null)}
                  className="rounded-md border border-slate-300 px-3 py-1.5 text-sm text-slate-700 hover:bg-slate-50"
                >
                  Remove
                </button>
              </div>
            )}
          </div>
        </div>
      )}
      {(problem || uploads.error) && (
        <Notice tone="error" role="alert">
          {problem || uploads.error}
        </Notice>
      )}
      {uploads.accepted && (
        <p role="status" className="text-sm text-green-700">
          “{uploads.accepted.display_name}” was uploaded. The AI reads your files whenever it writes the site’s code (a redeploy with “Write the code again” uses it).
        </p>
      )}
      {uploads.listError && <p className="text-sm text-slate-500">Could not list earlier uploads: {uploads.listError}</p>}
      <UploadedList uploads={uploads.uploads} />
    </div>
  )
}
