import { STATUS } from '../lib/realtime.js'

const LOOK = {
  [STATUS.OPEN]: { dot: 'bg-green-500', text: 'Live' },
  [STATUS.CONNECTING]: { dot: 'bg-slate-400', text: 'Connecting…' },
  [STATUS.RECONNECTING]: { dot: 'bg-amber-500', text: 'Reconnecting… (checking every few seconds)' },
}
const POLLING = { dot: 'bg-sky-500', text: 'Updating every few seconds' }

/** How the page gets its updates: the live socket, or polling while there is none. */
export default function ConnectionBadge({ status }) {
  const look = LOOK[status] ?? POLLING
  return (
    <span data-testid="connection" data-status={status} className="inline-flex items-center gap-1.5 text-xs text-slate-500">
      <span className={`h-2 w-2 rounded-full ${look.dot}`} aria-hidden="true" />
      {look.text}
    </span>
  )
}
