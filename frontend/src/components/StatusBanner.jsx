import { formatTime } from '../lib/buildStatus.js'
import { stepTitle } from '../lib/pipeline.js'

const LOOK = {
  running: { box: 'border-sky-200 bg-sky-50 text-sky-900', text: 'Building your site…' },
  succeeded: { box: 'border-green-200 bg-green-50 text-green-900', text: 'Your site is live.' },
  failed: { box: 'border-red-200 bg-red-50 text-red-900', text: 'The build failed.' },
}

export default function StatusBanner({ status, currentStep, startedAt, endedAt }) {
  const look = LOOK[status] ?? LOOK.running
  return (
    <div role="status" className={`rounded-lg border px-4 py-3 ${look.box}`}>
      <p className="font-semibold">{look.text}</p>
      <p className="text-sm opacity-80">
        {status === 'running' && currentStep && <>Now: {stepTitle(currentStep)}. </>}
        {startedAt && <>Started {formatTime(startedAt)}</>}
        {endedAt && <>, ended {formatTime(endedAt)}</>}
      </p>
    </div>
  )
}
