import { useCallback, useState } from 'react'

import ConfirmDialog from './ConfirmDialog.jsx'
import { actionsFor } from './sessionActions.js'

export default function SessionActions({ session, onDone }) {
  const [pending, setPending] = useState(null)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState(null)
  const cancel = useCallback(() => {
    setPending(null)
    setError(null)
  }, [])

  async function confirm() {
    setBusy(true)
    setError(null)
    try {
      const result = await pending.run()
      const done = pending.key
      setPending(null)
      onDone(done, result)
    } catch (err) {
      setError(err.message)
    } finally {
      setBusy(false)
    }
  }

  return (
    <div className="flex flex-wrap gap-2">
      {actionsFor(session).map((action) => (
        <button
          key={action.key}
          type="button"
          onClick={() => setPending(action)}
          className={
            action.danger
              ? 'rounded-md border border-red-300 bg-white px-3 py-1.5 text-sm font-medium text-red-700 hover:bg-red-50'
              : 'rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium text-slate-700 hover:bg-slate-50'
          }
        >
          {action.label}
        </button>
      ))}
      <ConfirmDialog
        open={pending !== null}
        title={pending?.title}
        confirmLabel={pending?.confirm}
        onConfirm={confirm}
        onCancel={cancel}
        busy={busy}
        error={error}
      >
        {pending?.body}
      </ConfirmDialog>
    </div>
  )
}
