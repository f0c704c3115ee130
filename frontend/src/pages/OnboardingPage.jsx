import { useState } from 'react'
import { useNavigate } from 'react-router-dom'

import { ApiError } from '../api/client.js'
import { storeClientToken } from '../api/credentials.js'
import { submitOnboardingRequest } from '../api/onboardingRequests.js'
import ChoiceGroup from '../components/ChoiceGroup.jsx'
import FormField from '../components/FormField.jsx'
import { inputClass } from '../components/inputClass.js'
import Notice from '../components/Notice.jsx'
import RequestReceived from '../components/RequestReceived.jsx'
import {
  EMPTY_FORM,
  HOST_PROVIDERS,
  REQUEST_MAX,
  SITE_TYPES,
  afterRequestAnswer,
  mapServerFieldErrors,
  toOnboardingInput,
  validateOnboarding,
} from '../lib/onboarding.js'
import { rateLimitMessage } from '../lib/rateLimit.js'

/** The message above the form for an error answer that is not about one field. */
function formErrorFor(err, fieldErrors, other) {
  if (err.status === 429) return rateLimitMessage(err)
  if (other.length > 0) return [err.message, ...other].join(' — ')
  return Object.keys(fieldErrors).length > 0 ? null : err.message
}

export default function OnboardingPage() {
  const navigate = useNavigate()
  const [values, setValues] = useState(EMPTY_FORM)
  const [touched, setTouched] = useState({})
  const [submitted, setSubmitted] = useState(false)
  const [serverErrors, setServerErrors] = useState({})
  const [formError, setFormError] = useState(null)
  const [sending, setSending] = useState(false)
  // The answer of a request that waits for review: shown instead of the form.
  const [received, setReceived] = useState(null)

  const clientErrors = validateOnboarding(values)
  const errorFor = (name) =>
    serverErrors[name] ?? ((submitted || touched[name]) && clientErrors[name]) ?? null

  function update(name, value) {
    setValues((prev) => ({ ...prev, [name]: value }))
    setServerErrors((prev) => {
      if (!(name in prev)) return prev
      const next = { ...prev }
      delete next[name]
      return next
    })
  }

  const onBlur = (name) => () => setTouched((prev) => ({ ...prev, [name]: true }))

  async function onSubmit(event) {
    event.preventDefault()
    if (sending) return
    setSubmitted(true)
    setFormError(null)
    setServerErrors({})
    if (Object.keys(clientErrors).length > 0) return

    setSending(true)
    let answer
    try {
      answer = await submitOnboardingRequest(toOnboardingInput(values))
    } catch (err) {
      setSending(false)
      if (err instanceof ApiError) {
        const { fieldErrors, other } = mapServerFieldErrors(err.fields)
        setServerErrors(fieldErrors)
        setFormError(formErrorFor(err, fieldErrors, other))
      } else {
        setFormError('Could not reach the server. Check your connection and try again.')
      }
      return
    }
    if (answer?.client_token) storeClientToken(answer.client_token)
    const next = afterRequestAnswer(answer)
    if (next.kind === 'status') {
      // The status page shows the personal link once, so the person can keep it.
      navigate(`/status/${encodeURIComponent(next.executionId)}`, { state: { clientUrl: answer.client_url } })
    }
    else if (next.kind === 'projects') navigate('/client')
    else {
      setSending(false)
      setReceived({
        name: values.name.trim(),
        approved: next.approved,
        message: answer?.message,
        requestId: answer?.request_id,
      })
    }
  }

  function startOver() {
    setValues(EMPTY_FORM)
    setTouched({})
    setSubmitted(false)
    setReceived(null)
  }

  if (received) return <RequestReceived {...received} onAnother={startOver} />

  return (
    <div className="mx-auto max-w-3xl space-y-6">
      <div>
        <h1 className="text-2xl font-bold tracking-tight sm:text-3xl">Build a website</h1>
        <p className="mt-1 text-slate-600">
          Describe the site you want. We plan it, write the code, deploy it and test it, and you can watch
          every step.
        </p>
      </div>

      <form
        onSubmit={onSubmit}
        noValidate
        aria-label="Onboarding"
        className="space-y-5 rounded-lg border border-slate-200 bg-white p-4 shadow-sm sm:p-6"
      >
        {formError && (
          <Notice tone="error" role="alert">
            {formError}
          </Notice>
        )}

        <FormField id="name" label="Your name" required error={errorFor('name')}>
          {(aria) => (
            <input
              {...aria}
              type="text"
              name="name"
              autoComplete="name"
              value={values.name}
              onChange={(e) => update('name', e.target.value)}
              onBlur={onBlur('name')}
              className={inputClass(errorFor('name'))}
            />
          )}
        </FormField>

        <FormField id="email" label="Email" required error={errorFor('email')}>
          {(aria) => (
            <input
              {...aria}
              type="email"
              name="email"
              autoComplete="email"
              value={values.email}
              onChange={(e) => update('email', e.target.value)}
              onBlur={onBlur('email')}
              className={inputClass(errorFor('email'))}
            />
          )}
        </FormField>

        <FormField
          id="phone"
          label="Phone"
          hint="Digits, spaces and dashes, optional leading +."
          error={errorFor('phone')}
        >
          {(aria) => (
            <input
              {...aria}
              type="tel"
              name="phone"
              autoComplete="tel"
              value={values.phone}
              onChange={(e) => update('phone', e.target.value)}
              onBlur={onBlur('phone')}
              className={inputClass(errorFor('phone'))}
            />
          )}
        </FormField>

        <FormField
          id="initialRequest"
          label="What should we build?"
          required
          hint={`${values.initialRequest.trim().length} / ${REQUEST_MAX} characters`}
          error={errorFor('initialRequest')}
        >
          {(aria) => (
            <textarea
              {...aria}
              name="initial_request"
              rows={6}
              placeholder="A one-page site for my bakery with opening hours, a menu and a contact form…"
              value={values.initialRequest}
              onChange={(e) => update('initialRequest', e.target.value)}
              onBlur={onBlur('initialRequest')}
              className={inputClass(errorFor('initialRequest'))}
            />
          )}
        </FormField>

        <ChoiceGroup
          name="hostProvider"
          legend="Host provider"
          options={HOST_PROVIDERS}
          value={values.hostProvider}
          onChange={(value) => update('hostProvider', value)}
          error={errorFor('hostProvider')}
        />

        <ChoiceGroup
          name="siteType"
          legend="Site type"
          options={SITE_TYPES}
          value={values.siteType}
          onChange={(value) => update('siteType', value)}
          error={errorFor('siteType')}
        />

        <button
          type="submit"
          disabled={sending}
          className="w-full rounded-md bg-sky-600 px-4 py-2.5 font-semibold text-white shadow-sm hover:bg-sky-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-400 focus-visible:ring-offset-2 disabled:cursor-not-allowed disabled:bg-slate-400 sm:w-auto"
        >
          {sending ? 'Sending your request…' : 'Start building'}
        </button>
      </form>
    </div>
  )
}
