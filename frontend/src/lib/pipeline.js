// The nine pipeline steps, in order. Mirrors STEPS / STEP_TITLES in tmux_builder/pipeline.py;
// the API sends the same names and titles, this list only fills in steps it has not reported.

export const PIPELINE_STEPS = [
  { name: 'create_user', title: 'Create user' },
  { name: 'create_session', title: 'Create session' },
  { name: 'gather_requirements', title: 'Gather requirements' },
  { name: 'create_plan', title: 'Create plan' },
  { name: 'generate_code', title: 'Generate code' },
  { name: 'deploy', title: 'Deploy' },
  { name: 'health_check', title: 'Health check' },
  { name: 'screenshot', title: 'Screenshot' },
  { name: 'e2e_tests', title: 'E2E tests' },
].map((step, index) => ({ ...step, number: index + 1 }))

function pendingStep({ name, title, number }) {
  return {
    name,
    title,
    number,
    status: 'pending',
    started_at: null,
    ended_at: null,
    duration_seconds: null,
    attempts: 0,
    error: null,
  }
}

/** The API's steps laid over the full pipeline, so the timeline always shows all nine. */
export function timelineSteps(reported) {
  const byName = new Map((reported ?? []).map((step) => [step.name, step]))
  const known = PIPELINE_STEPS.map((step) => ({ ...pendingStep(step), ...byName.get(step.name) }))
  const extra = (reported ?? []).filter((s) => !PIPELINE_STEPS.some((p) => p.name === s.name))
  return [...known, ...extra].sort((a, b) => a.number - b.number)
}

export function stepTitle(name) {
  return PIPELINE_STEPS.find((step) => step.name === name)?.title ?? name
}
