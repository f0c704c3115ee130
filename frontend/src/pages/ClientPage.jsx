import { useEffect } from 'react'
import { useLocation, useNavigate } from 'react-router-dom'

import { hasClientToken, storeClientToken } from '../api/credentials.js'
import LinkHelp from '../components/LinkHelp.jsx'
import Notice from '../components/Notice.jsx'
import ProjectList from '../components/ProjectList.jsx'
import { tokenFromFragment } from '../lib/clientLink.js'
import { useClientProjects } from '../lib/useClientProjects.js'

/**
 * Route element for `/client`, the target of the signed link `/client#token=...`.
 *
 * A token in the fragment is stored and then dropped from the address bar (a replace, so Back
 * does not bring it back and it does not linger in history or screenshots). The projects load
 * only after that, so the first request already carries the new token.
 */
export default function ClientRoute() {
  const { hash } = useLocation()
  const navigate = useNavigate()
  const linkToken = tokenFromFragment(hash)

  useEffect(() => {
    if (!hash) return
    if (linkToken) storeClientToken(linkToken)
    navigate({ hash: '' }, { replace: true })
  }, [hash, linkToken, navigate])

  if (hash) return <p className="text-slate-500">Signing you in…</p>
  if (!hasClientToken()) return <SignInNeeded />
  return <ClientProjectsPage />
}

function SignInNeeded() {
  return (
    <div className="mx-auto max-w-3xl space-y-4">
      <h1 className="text-2xl font-bold tracking-tight">Your personal link is needed</h1>
      <LinkHelp>
        <p>Your projects are shown through the personal link we gave you when your build started.</p>
      </LinkHelp>
    </div>
  )
}

export function ClientProjectsPage() {
  const { projects, loading, problem, message, reload } = useClientProjects()

  if (problem === 'unauthorized') {
    return (
      <div className="mx-auto max-w-3xl space-y-4">
        <h1 className="text-2xl font-bold tracking-tight">Your link has expired or is invalid</h1>
        <LinkHelp>
          <p>We could not sign you in with this link, so your projects cannot be shown.</p>
        </LinkHelp>
      </div>
    )
  }

  const clientName = projects?.find((p) => p.client_name)?.client_name
  return (
    <div className="mx-auto max-w-3xl space-y-6">
      <div>
        <h1 className="text-2xl font-bold tracking-tight">Your projects</h1>
        {clientName && <p className="mt-1 text-slate-600">Signed in as {clientName}.</p>}
      </div>

      {loading && <p className="text-slate-500">Loading your projects…</p>}
      {problem && (
        <Notice tone="error" role="alert">
          <p>
            {problem === 'network'
              ? 'Could not reach the server. Check your connection.'
              : `Could not load your projects: ${message}`}
          </p>
          <button type="button" onClick={reload} className="mt-2 font-medium underline">
            Try again
          </button>
        </Notice>
      )}
      {projects && projects.length === 0 && (
        <Notice>
          You have no projects yet. When a build is started for you it will show up here.
        </Notice>
      )}
      {projects && projects.length > 0 && <ProjectList projects={projects} />}
    </div>
  )
}
