import { useState } from 'react'
import { Link, useLocation, useParams } from 'react-router-dom'

import { hasClientToken, readClientToken } from '../api/credentials.js'
import ActivityPanel from '../components/ActivityPanel.jsx'
import BuildHistory from '../components/BuildHistory.jsx'
import BuildResult from '../components/BuildResult.jsx'
import ChatPanel from '../components/ChatPanel.jsx'
import ConnectionBadge from '../components/ConnectionBadge.jsx'
import ErrorPanel from '../components/ErrorPanel.jsx'
import LinkHelp from '../components/LinkHelp.jsx'
import Notice from '../components/Notice.jsx'
import PersonalLink from '../components/PersonalLink.jsx'
import RedeployPanel from '../components/RedeployPanel.jsx'
import StatusBanner from '../components/StatusBanner.jsx'
import StepTimeline from '../components/StepTimeline.jsx'
import UploadPanel from '../components/UploadPanel.jsx'
import { isTerminal } from '../lib/buildStatus.js'
import { timelineSteps } from '../lib/pipeline.js'
import { useRealtime } from '../lib/realtime.js'
import { useBuildStatus } from '../lib/useBuildStatus.js'
import { useChat } from '../lib/useChat.js'
import { useProjectHistory } from '../lib/useProjectHistory.js'
import { useUploads } from '../lib/useUploads.js'

/** Route element: a new id starts a fresh page (the key resets all state). */
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

function Section({ id, title, className = '', children }) {
  return (
    <section aria-labelledby={id} className={`rounded-lg border border-slate-200 bg-white p-4 ${className}`}>
      <h2 id={id} className="mb-2 text-lg font-semibold">
        {title}
      </h2>
      {children}
    </section>
  )
}

function SiteSection({ executionId, data, className }) {
  const executions = useProjectHistory(data.session_id, data.status)
  const ended = isTerminal(data.status)
  return (
    <BuildResult
      deployedUrl={data.deployed_url}
      screenshotUrl={data.screenshot_url}
      mobileScreenshotUrl={data.screenshots?.mobile_url}
      e2e={data.e2e}
      className={className}
    >
      <RedeployPanel
        executionId={executionId}
        disabledReason={ended ? null : 'You can redeploy once this build has ended.'}
      />
      <BuildHistory executions={executions} currentId={executionId} />
    </BuildResult>
  )
}

function ChatSection({ executionId, realtime, className }) {
  const chat = useChat(executionId, { realtime })
  return (
    <Section id="chat-heading" title="Chat with the AI" className={className}>
      <ChatPanel chat={chat} />
    </Section>
  )
}

function FilesSection({ sessionId, className }) {
  const uploads = useUploads(sessionId)
  return (
    <Section id="files-heading" title="Your files" className={className}>
      <UploadPanel uploads={uploads} />
    </Section>
  )
}

/**
 * One build of a project: its live status (steps, activity, the site, screenshot and E2E
 * result), redeploy, the chat with the AI and the project's files.
 */
export function StatusPage({ executionId }) {
  const { state: navigation } = useLocation()
  // The credential the realtime socket connects with; REST calls read it themselves.
  const [token] = useState(readClientToken)
  const [sessionSubscription, setSessionSubscription] = useState(null)
  const realtime = useRealtime(token, [{ execution_id: executionId }, sessionSubscription])
  const { data, loading, blocked, failure, retrying } = useBuildStatus(executionId, { realtime })
  if (data?.session_id && sessionSubscription?.session_id !== data.session_id) {
    // Subscribing by session too brings the chat's answers (adjusting state while rendering).
    setSessionSubscription({ session_id: data.session_id })
  }

  if (blocked) return <BuildUnavailable reason={blocked} executionId={executionId} />
  return (
    <div className="space-y-6">
      <div className="flex flex-wrap items-end justify-between gap-2">
        <div className="min-w-0">
          <h1 className="text-2xl font-bold tracking-tight">Build status</h1>
          <p className="break-all font-mono text-xs text-slate-500">{executionId}</p>
        </div>
        <ConnectionBadge status={realtime.status} />
      </div>
      <PersonalLink url={navigation?.clientUrl} />
      {navigation?.redeployedFrom && (
        <Notice role="status">
          Redeploy started. This is the new build; the{' '}
          <Link to={`/status/${encodeURIComponent(navigation.redeployedFrom)}`} className="underline">
            previous build
          </Link>{' '}
          stays in the list below.
        </Notice>
      )}
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
          {/* Two columns on wide screens. On a phone the columns dissolve (display: contents)
              so the chat comes before the long activity list. */}
          <div className="flex flex-col gap-6 lg:grid lg:grid-cols-5">
            <div className="contents lg:col-span-3 lg:block lg:min-w-0 lg:space-y-6">
              <SiteSection executionId={executionId} data={data} className="order-1 lg:order-none" />
              <Section id="steps-heading" title="Steps" className="order-2 lg:order-none">
                <StepTimeline steps={timelineSteps(data.steps)} />
              </Section>
              <Section id="activity-heading" title="Activity" className="order-5 lg:order-none">
                <ActivityPanel activity={data.activity} />
              </Section>
            </div>
            <div className="contents lg:col-span-2 lg:block lg:min-w-0 lg:space-y-6">
              <ChatSection executionId={executionId} realtime={realtime} className="order-3 lg:order-none" />
              <FilesSection sessionId={data.session_id} className="order-4 lg:order-none" />
            </div>
          </div>
        </>
      )}
    </div>
  )
}
