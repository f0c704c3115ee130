import { useState } from 'react'
import { useNavigate } from 'react-router-dom'

import { redeployBuild } from '../api/builds.js'
import Notice from './Notice.jsx'

const CHOICES = [
  { value: 'deploy', label: 'Publish the same code again', hint: 'Quick: deploys the current code to the same address.' },
  {
    value: 'generate_code',
    label: 'Write the code again',
    hint: 'The AI rewrites the site from its plan, your chat changes and your uploaded files.',
  },
]

const BUTTON =
  'rounded-md px-4 py-2 text-sm font-semibold focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-400 disabled:cursor-not-allowed'

/**
 * Redeploy with a confirmation: a new build of the same site (same address), which the page
 * then opens. Only offered once the current build has ended (`disabled` says why not).
 */
export default function RedeployPanel({ executionId, disabledReason = null }) {
  const navigate = useNavigate()
  const [confirming, setConfirming] = useState(false)
  const [fromStep, setFromStep] = useState('deploy')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState(null)

  async function confirm() {
    setBusy(true)
    setError(null)
    try {
      const answer = await redeployBuild(executionId, { fromStep })
      navigate(`/status/${encodeURIComponent(answer.execution_id)}`, { state: { redeployedFrom: executionId } })
    } catch (err) {
      setError(err.message)
      setBusy(false)
    }
  }

  if (!confirming) {
    return (
      <div className="space-y-1">
        <button
          type="button"
          onClick={() => setConfirming(true)}
          disabled={Boolean(disabledReason)}
          className={`${BUTTON} border border-slate-300 bg-white text-slate-800 hover:bg-slate-50 disabled:text-slate-400`}
        >
          Redeploy…
        </button>
        {disabledReason && <p className="text-xs text-slate-500">{disabledReason}</p>}
      </div>
    )
  }
  return (
    <div role="dialog" aria-labelledby="redeploy-heading" className="space-y-3 rounded-md border border-amber-300 bg-amber-50 p-3">
      <h3 id="redeploy-heading" className="font-semibold text-amber-900">
        Redeploy this site?
      </h3>
      <fieldset className="space-y-2">
        <legend className="sr-only">What to redeploy</legend>
        {CHOICES.map((choice) => (
          <label key={choice.value} className="flex items-start gap-2 text-sm">
            <input
              type="radio"
              name="redeploy-from"
              value={choice.value}
              checked={fromStep === choice.value}
              onChange={() => setFromStep(choice.value)}
              className="mt-1 accent-sky-600"
            />
            <span>
              <span className="font-medium">{choice.label}</span>
              <span className="block text-xs text-slate-600">{choice.hint}</span>
            </span>
          </label>
        ))}
      </fieldset>
      {error && (
        <Notice tone="error" role="alert">
          Could not redeploy: {error}
        </Notice>
      )}
      <div className="flex flex-wrap gap-2">
        <button type="button" onClick={confirm} disabled={busy} className={`${BUTTON} bg-sky-600 text-white hover:bg-sky-700 disabled:bg-slate-400`}>
          {busy ? 'Starting…' : 'Yes, redeploy'}
        </button>
        <button
          type="button"
          onClick={() => {
            setConfirming(false)
            setError(null)
          }}
          disabled={busy}
          className={`${BUTTON} border border-slate-300 bg-white text-slate-700 hover:bg-slate-50`}
        >
          Cancel
        </button>
      </div>
    </div>
  )
}
