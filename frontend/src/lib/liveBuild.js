// How a realtime event changes the build status the page shows. The REST answer
// (GET /api/status/{id}) stays the authority: the page re-fetches it after every reconnect and
// after events it cannot fully apply (screenshot, end of the execution), so these updates only
// need to be right until the next answer.

function seconds(start, end) {
  if (!start || !end) return null
  const ms = Date.parse(end) - Date.parse(start)
  return Number.isFinite(ms) && ms >= 0 ? Math.round(ms) / 1000 : null
}

function applyStep(data, event) {
  if (!event.step) return data
  const attempts = Number.isInteger(event.attempt) ? event.attempt + 1 : 1
  let found = false
  const steps = (data.steps ?? []).map((step) => {
    if (step.name !== event.step) return step
    found = true
    const ended = event.status === 'running' ? null : (event.ended_at ?? step.ended_at ?? null)
    const started = event.started_at ?? step.started_at ?? null
    return {
      ...step,
      status: event.status ?? step.status,
      started_at: started,
      ended_at: ended,
      duration_seconds: seconds(started, ended) ?? (event.status === 'running' ? null : step.duration_seconds),
      attempts: Math.max(step.attempts ?? 0, attempts),
      error: event.status === 'failed' ? stepError(event) ?? step.error ?? null : null,
    }
  })
  if (!found) return data
  const running = steps.find((s) => s.status === 'running')
  return { ...data, steps, current_step: running ? running.name : data.current_step }
}

// The wire names the error (`error`) and its readable `cause` apart; the status route nests them.
function stepError(event) {
  if (!event.error) return null
  if (typeof event.error === 'object') return event.error
  return { error: event.error, cause: event.cause ?? '' }
}

function applyExecution(data, event) {
  if (event.status !== 'succeeded' && event.status !== 'failed') return data
  const failure =
    event.status === 'failed' && event.error
      ? { step: event.failed_step ?? data.error?.step ?? null, error: event.error, cause: event.cause ?? '' }
      : data.error
  return {
    ...data,
    status: event.status,
    current_step: null,
    deployed_url: event.deployed_url ?? data.deployed_url,
    error: failure,
  }
}

function applyScreenshot(data, event) {
  const links = event.screenshots
  if (!links?.desktop_url) return data
  return { ...data, screenshots: links, screenshot_url: links.desktop_url }
}

function activityKey(line) {
  return `${line.at}|${line.type}|${line.message}`
}

function applyActivity(data, event) {
  const line = {
    at: event.at,
    type: event.activity_type ?? event.type,
    step: event.step ?? null,
    message: event.message ?? '',
  }
  const activity = data.activity ?? []
  // The same event may come twice (subscribed by build and by session).
  if (activity.some((a) => activityKey(a) === activityKey(line))) return data
  return { ...data, activity: [line, ...activity] }
}

/**
 * The status `data` after one realtime `event` (a new object; `data` itself is not changed).
 * Events of another execution, and events that say nothing about the build, return `data`.
 */
export function applyBuildEvent(data, event) {
  if (!data || !event) return data
  if (event.execution_id && event.execution_id !== data.execution_id) return data
  switch (event.type) {
    case 'step':
      return applyStep(data, event)
    case 'activity':
      return applyActivity(data, event)
    case 'deployed':
      return event.url ? { ...data, deployed_url: event.url } : data
    case 'execution':
      return applyExecution(data, event)
    case 'screenshot':
      return applyScreenshot(data, event)
    default:
      return data
  }
}

/** Whether the page should ask REST again after this event (it carries less than REST has). */
export function needsRefresh(event) {
  return ['step', 'deployed', 'screenshot', 'execution'].includes(event?.type)
}
