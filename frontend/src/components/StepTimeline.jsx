import { formatDuration } from '../lib/buildStatus.js'

const STATUS_LABEL = {
  pending: 'Pending',
  running: 'Running',
  succeeded: 'Succeeded',
  failed: 'Failed',
  skipped: 'Skipped',
}

function StepIcon({ status }) {
  const base = 'flex h-7 w-7 shrink-0 items-center justify-center rounded-full text-sm font-bold'
  if (status === 'succeeded') {
    return <span className={`${base} bg-green-600 text-white`} aria-hidden="true">✓</span>
  }
  if (status === 'failed') {
    return <span className={`${base} bg-red-600 text-white`} aria-hidden="true">✕</span>
  }
  if (status === 'running') {
    return (
      <span className={`${base} bg-sky-100`} aria-hidden="true">
        <span className="h-4 w-4 animate-spin rounded-full border-2 border-sky-600 border-t-transparent" />
      </span>
    )
  }
  if (status === 'skipped') {
    return <span className={`${base} bg-slate-100 text-slate-400`} aria-hidden="true">–</span>
  }
  return <span className={`${base} border-2 border-slate-300 bg-white`} aria-hidden="true" />
}

const TITLE_CLASS = {
  pending: 'text-slate-500',
  running: 'text-sky-700',
  succeeded: 'text-slate-900',
  failed: 'text-red-700',
  skipped: 'text-slate-400',
}

function Step({ step }) {
  const duration = formatDuration(step.duration_seconds)
  const retries = step.attempts > 1 ? step.attempts - 1 : 0
  return (
    <li className="flex gap-3 py-2" data-testid={`step-${step.name}`} data-status={step.status}>
      <StepIcon status={step.status} />
      <div className="min-w-0 flex-1">
        <div className="flex flex-wrap items-baseline gap-x-2">
          <span className={`font-medium ${TITLE_CLASS[step.status] ?? 'text-slate-700'}`}>
            {step.number}. {step.title}
          </span>
          <span className="sr-only">{STATUS_LABEL[step.status] ?? step.status}</span>
          {step.status === 'running' && <span className="text-xs text-sky-700">in progress…</span>}
          {step.status === 'skipped' && <span className="text-xs text-slate-400">skipped (redeploy)</span>}
          {duration && <span className="text-xs tabular-nums text-slate-500">{duration}</span>}
          {retries > 0 && (
            <span className="rounded bg-amber-100 px-1.5 py-0.5 text-xs text-amber-800">retried {retries}×</span>
          )}
        </div>
        {step.status === 'failed' && step.error && (
          <p className="mt-1 break-words text-sm text-red-700">
            <span className="font-semibold">{step.error.error}</span>
            {step.error.cause ? `: ${step.error.cause}` : ''}
          </p>
        )}
      </div>
    </li>
  )
}

export default function StepTimeline({ steps }) {
  return (
    <ol aria-label="Build steps" className="divide-y divide-slate-100">
      {steps.map((step) => (
        <Step key={step.name} step={step} />
      ))}
    </ol>
  )
}
