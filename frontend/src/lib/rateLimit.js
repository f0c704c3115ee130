// What to tell a person who was rate-limited (HTTP 429).

/** "1 second", "45 seconds", "2 minutes" (rounded up), "1 hour"... */
export function formatWait(seconds) {
  const s = Math.max(1, Math.ceil(Number(seconds)))
  const plural = (n, unit) => `${n} ${unit}${n === 1 ? '' : 's'}`
  if (s < 60) return plural(s, 'second')
  if (s < 3600) return plural(Math.ceil(s / 60), 'minute')
  return plural(Math.ceil(s / 3600), 'hour')
}

/** The server's message plus when to try again, from the error's `Retry-After`. */
export function rateLimitMessage(err) {
  const base = String(err?.message || 'Too many requests.').trim()
  const sentence = /[.!?]$/.test(base) ? base : `${base}.`
  const seconds = err?.retryAfterSeconds
  const when = seconds == null ? 'Please try again later.' : `Please try again in ${formatWait(seconds)}.`
  return `${sentence} ${when}`
}
