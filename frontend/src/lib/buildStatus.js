// Pure helpers for the status view: what counts as finished, how to show times and activity.

export const POLL_INTERVAL_MS = 1500
export const MAX_ACTIVITY_LINES = 20

const TERMINAL = new Set(['succeeded', 'failed'])

export function isTerminal(status) {
  return TERMINAL.has(status)
}

/** "0.8 s", "12 s", "3 m 05 s", or "" when unknown. */
export function formatDuration(seconds) {
  if (seconds == null || Number.isNaN(Number(seconds))) return ''
  const s = Number(seconds)
  if (s < 10) return `${s.toFixed(1)} s`
  if (s < 60) return `${Math.round(s)} s`
  const minutes = Math.floor(s / 60)
  const rest = String(Math.round(s % 60)).padStart(2, '0')
  return `${minutes} m ${rest} s`
}

/** Local wall-clock time of an ISO timestamp, or the raw text if it does not parse. */
export function formatTime(iso) {
  if (!iso) return ''
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return iso
  return date.toLocaleTimeString()
}

/** Newest first, at most `limit` lines; stable for lines with the same timestamp. */
export function latestActivity(activity, limit = MAX_ACTIVITY_LINES) {
  return (activity ?? [])
    .map((line, index) => ({ ...line, index }))
    .sort((a, b) => String(b.at).localeCompare(String(a.at)) || b.index - a.index)
    .slice(0, limit)
}
