const TONES = {
  live: 'bg-green-100 text-green-800',
  succeeded: 'bg-green-100 text-green-800',
  SUCCEEDED: 'bg-green-100 text-green-800',
  active: 'bg-sky-100 text-sky-800',
  running: 'bg-sky-100 text-sky-800',
  RUNNING: 'bg-sky-100 text-sky-800',
  requested: 'bg-slate-100 text-slate-700',
  pending: 'bg-amber-100 text-amber-900',
  completed: 'bg-slate-200 text-slate-800',
  approved: 'bg-green-100 text-green-800',
  rejected: 'bg-slate-200 text-slate-700',
  deleted: 'bg-red-100 text-red-800',
  delete_failed: 'bg-red-100 text-red-800',
  deleting: 'bg-amber-100 text-amber-900',
  failed: 'bg-red-100 text-red-800',
  FAILED: 'bg-red-100 text-red-800',
  TIMED_OUT: 'bg-red-100 text-red-800',
  ABORTED: 'bg-red-100 text-red-800',
}

/** A status word in a coloured pill. */
export default function StatusBadge({ status }) {
  const text = String(status ?? 'unknown')
  return (
    <span
      className={`inline-block rounded-full px-2 py-0.5 text-xs font-medium ${TONES[text] ?? 'bg-slate-100 text-slate-700'}`}
    >
      {text.replace('_', ' ').toLowerCase()}
    </span>
  )
}
