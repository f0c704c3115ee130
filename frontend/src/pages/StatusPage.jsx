import { Link, useParams } from 'react-router-dom'

import ActivityFeed from '../components/ActivityFeed.jsx'
import BuildResult from '../components/BuildResult.jsx'
import ErrorPanel from '../components/ErrorPanel.jsx'
import Notice from '../components/Notice.jsx'
import StatusBanner from '../components/StatusBanner.jsx'
import StepTimeline from '../components/StepTimeline.jsx'
import { timelineSteps } from '../lib/pipeline.js'
import { useBuildStatus } from '../lib/useBuildStatus.js'

/** Route element: a new id starts a fresh poller (the key resets all state). */
export default function StatusRoute() {
  const { executionId } = useParams()
  return <StatusPage key={executionId} executionId={executionId} />
}

export function StatusPage({ executionId }) {
  const { data, loading, notFound, failure, retrying } = useBuildStatus(executionId)

  if (notFound) {
    return (
      <div className="space-y-4">
        <h1 className="text-2xl font-bold">No build with this id</h1>
        <p className="break-all text-slate-600">
          Nothing is known about <code className="font-mono">{executionId}</code>.
        </p>
        <Link to="/" className="font-medium text-sky-700 underline">
          Start a new build
        </Link>
      </div>
    )
  }

  return (
    <div className="space-y-6">
      <div>
        <h1 className="text-2xl font-bold tracking-tight">Build status</h1>
        <p className="break-all font-mono text-xs text-slate-500">{executionId}</p>
      </div>

      {retrying && (
        <Notice tone="warning" role="alert">
          Connection problem ({retrying}). Retrying…
        </Notice>
      )}
      {failure && (
        <Notice tone="error" role="alert">
          Could not load this build: {failure}
        </Notice>
      )}
      {loading && !data && <p className="text-slate-500">Loading…</p>}

      {data && (
        <>
          <StatusBanner
            status={data.status}
            currentStep={data.current_step}
            startedAt={data.started_at}
            endedAt={data.ended_at}
          />
          {data.status === 'failed' && <ErrorPanel error={data.error} />}
          <BuildResult deployedUrl={data.deployed_url} screenshotUrl={data.screenshot_url} e2e={data.e2e} />
          <section aria-labelledby="steps-heading" className="rounded-lg border border-slate-200 bg-white p-4">
            <h2 id="steps-heading" className="mb-2 text-lg font-semibold">
              Steps
            </h2>
            <StepTimeline steps={timelineSteps(data.steps)} />
          </section>
          <section aria-labelledby="activity-heading" className="rounded-lg border border-slate-200 bg-white p-4">
            <h2 id="activity-heading" className="mb-2 text-lg font-semibold">
              Activity
            </h2>
            <ActivityFeed activity={data.activity} />
          </section>
        </>
      )}
    </div>
  )
}
