// Pure helpers for the client's project list.

/** Active projects before archived ones, newest first within each group. */
export function orderProjects(projects) {
  return [...(projects ?? [])].sort(
    (a, b) => Number(Boolean(a.archived)) - Number(Boolean(b.archived)) ||
      String(b.created_at ?? '').localeCompare(String(a.created_at ?? '')),
  )
}

/** A date like "Jan 5, 2025", or "" when unknown. */
export function formatDate(iso) {
  if (!iso) return ''
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return ''
  return date.toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' })
}

/** "in_progress" -> "In progress". */
export function statusLabel(status) {
  const text = String(status ?? '').replace(/[_-]+/g, ' ').trim()
  return text ? text[0].toUpperCase() + text.slice(1) : 'Unknown'
}
