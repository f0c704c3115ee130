import { useState } from 'react'
import { useNavigate } from 'react-router-dom'

import { createUser } from '../api/builds.js'
import { ApiError } from '../api/client.js'
import ChoiceGroup from '../components/ChoiceGroup.jsx'
import FormField from '../components/FormField.jsx'
import { inputClass } from '../components/inputClass.js'
import Notice from '../components/Notice.jsx'
import {
  EMPTY_FORM,
  HOST_PROVIDERS,
  REQUIREMENTS_MAX,
  SITE_TYPES,
  mapServerFieldErrors,
  toCreateUserInput,
  validateOnboarding,
} from '../lib/onboarding.js'

export default function OnboardingPage() {
  const navigate = useNavigate()
  const [values, setValues] = useState(EMPTY_FORM)
  const [touched, setTouched] = useState({})
  const [submitted, setSubmitted] = useState(false)
  const [serverErrors, setServerErrors] = useState({})
  const [formError, setFormError] = useState(null)
  const [sending, setSending] = useState(false)

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
    try {
      const created = await createUser(toCreateUserInput(values))
      navigate(`/status/${encodeURIComponent(created.execution_id)}`)
    } catch (err) {
      setSending(false)
      if (err instanceof ApiError) {
        const { fieldErrors, other } = mapServerFieldErrors(err.fields)
        setServerErrors(fieldErrors)
        const shownOnFields = Object.keys(fieldErrors).length > 0
        setFormError(other.length > 0 ? [err.message, ...other].join(' — ') : shownOnFields ? null : err.message)
      } else {
        setFormError('Could not reach the server. Check your connection and try again.')
      }
    }
  }

  return (
    <div className="space-y-6">
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
          id="requirements"
          label="What should we build?"
          required
          hint={`${values.requirements.trim().length} / ${REQUIREMENTS_MAX} characters`}
          error={errorFor('requirements')}
        >
          {(aria) => (
            <textarea
              {...aria}
              name="requirements"
              rows={6}
              placeholder="A one-page site for my bakery with opening hours, a menu and a contact form…"
              value={values.requirements}
              onChange={(e) => update('requirements', e.target.value)}
              onBlur={onBlur('requirements')}
              className={inputClass(errorFor('requirements'))}
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
          {sending ? 'Starting your build…' : 'Start building'}
        </button>
      </form>
    </div>
  )
}
