import { Link, useParams } from 'react-router-dom'

import { hasClientToken } from '../api/credentials.js'
import ActivityFeed from '../components/ActivityFeed.jsx'
import BuildResult from '../components/BuildResult.jsx'
import ErrorPanel from '../components/ErrorPanel.jsx'
import LinkHelp from '../components/LinkHelp.jsx'
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

/** The page shown instead of the build when the API refused it (401, 403) or has none (404). */
function BuildUnavailable({ reason, executionId }) {
  if (reason === 'unauthorized') {
    return (
      <div className="space-y-4">
        <h1 className="text-2xl font-bold">
          {hasClientToken() ? 'Your sign-in link has expired' : 'Sign-in link needed'}
        </h1>
        <LinkHelp>
          <p>A build can only be followed through the personal link of the account it belongs to.</p>
        </LinkHelp>
      </div>
    )
  }
  if (reason === 'forbidden') {
    return (
      <div className="space-y-4">
        <h1 className="text-2xl font-bold">This build belongs to another account</h1>
        <LinkHelp>
          <p>You are signed in with a link for a different account than the one this build belongs to.</p>
        </LinkHelp>
      </div>
    )
  }
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

export function StatusPage({ executionId }) {
  const { data, loading, blocked, failure, retrying } = useBuildStatus(executionId)

  if (blocked) return <BuildUnavailable reason={blocked} executionId={executionId} />

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
