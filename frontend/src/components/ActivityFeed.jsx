import { formatTime, latestActivity } from '../lib/buildStatus.js'
import { stepTitle } from '../lib/pipeline.js'

const TYPE_CLASS = {
  error: 'text-red-700',
  done: 'text-green-700',
  deployed: 'text-green-700',
  summary: 'text-slate-900',
}

export default function ActivityFeed({ activity }) {
  const lines = latestActivity(activity)
  if (lines.length === 0) {
    return <p className="text-sm text-slate-500">No activity yet.</p>
  }
  return (
    <ul aria-label="Latest activity" className="space-y-1 text-sm">
      {lines.map((line) => (
        <li key={`${line.at}-${line.index}`} className="flex gap-2">
          <time dateTime={line.at} className="shrink-0 tabular-nums text-slate-400">
            {formatTime(line.at)}
          </time>
          <span className={`min-w-0 break-words ${TYPE_CLASS[line.type] ?? 'text-slate-700'}`}>
            {line.step && <span className="text-slate-500">[{stepTitle(line.step)}] </span>}
            {line.message}
          </span>
        </li>
      ))}
    </ul>
  )
}
