import { useState } from 'react'
import { Link } from 'react-router-dom'

import { createSession } from '../../api/admin.js'
import { ApiError } from '../../api/client.js'
import { inputClass } from '../../components/inputClass.js'
import { HOST_PROVIDERS, SITE_TYPES } from '../../lib/onboarding.js'

const EMPTY = { email: '', client_name: '', phone: '', initial_request: '', host_provider: 'aws', site_type: 'static' }

function body(values) {
  const out = { email: values.email.trim(), host_provider: values.host_provider, site_type: values.site_type }
  for (const key of ['client_name', 'phone', 'initial_request']) {
    if (values[key].trim()) out[key] = values[key].trim()
  }
  return out
}

function Field({ id, label, error, hint, children }) {
  return (
    <div>
      <label htmlFor={id} className="block text-sm font-medium">
        {label}
      </label>
      {children}
      {hint && !error && <p className="mt-1 text-xs text-slate-500">{hint}</p>}
      {error && (
        <p role="alert" className="mt-1 text-sm text-red-700">
          {error}
        </p>
      )}
    </div>
  )
}

/** Open a session for a user (found or created by e-mail); with a request, its build starts. */
export default function NewSessionPage() {
  const [values, setValues] = useState(EMPTY)
  const [errors, setErrors] = useState({})
  const [failure, setFailure] = useState(null)
  const [created, setCreated] = useState(null)
  const [saving, setSaving] = useState(false)

  const set = (key) => (event) => setValues((v) => ({ ...v, [key]: event.target.value }))

  async function onSubmit(event) {
    event.preventDefault()
    if (!values.email.trim()) {
      setErrors({ email: 'The e-mail is required.' })
      return
    }
    setSaving(true)
    setErrors({})
    setFailure(null)
    try {
      setCreated(await createSession(body(values)))
    } catch (err) {
      if (err instanceof ApiError && err.fields.length > 0) {
        setErrors(Object.fromEntries(err.fields.map((f) => [f.field.split('.').at(-1), f.message])))
      }
      setFailure(err.message)
    } finally {
      setSaving(false)
    }
  }

  if (created) {
    return (
      <div className="max-w-2xl space-y-3">
        <h1 className="text-2xl font-semibold">Session opened</h1>
        <p className="text-sm text-slate-700">
          {created.is_new_user ? 'A new user was created.' : 'The user already existed.'}{' '}
          {created.execution_id ? 'The build has started.' : 'No request yet: the session waits for a conversation.'}
        </p>
        <p className="text-sm">
          Client link (send it to the user):{' '}
          <a href={created.client_url} className="break-all text-sky-700 underline">
            {created.client_url}
          </a>
        </p>
        <Link
          to={`/admin/sessions/${encodeURIComponent(created.session_id)}`}
          className="inline-block rounded-md bg-sky-600 px-3 py-1.5 text-sm font-medium text-white"
        >
          Open the session
        </Link>
      </div>
    )
  }

  return (
    <form onSubmit={onSubmit} noValidate className="max-w-2xl space-y-4">
      <h1 className="text-2xl font-semibold">New session</h1>
      <Field id="ns-email" label="E-mail" error={errors.email}>
        <input id="ns-email" type="email" value={values.email} onChange={set('email')} className={inputClass(errors.email)} />
      </Field>
      <Field id="ns-name" label="Client name" error={errors.client_name}>
        <input id="ns-name" value={values.client_name} onChange={set('client_name')} className={inputClass(errors.client_name)} />
      </Field>
      <Field id="ns-phone" label="Phone" error={errors.phone}>
        <input id="ns-phone" type="tel" value={values.phone} onChange={set('phone')} className={inputClass(errors.phone)} />
      </Field>
      <Field
        id="ns-request"
        label="What to build"
        error={errors.initial_request}
        hint="Optional: without it the session waits for the user's first message."
      >
        <textarea
          id="ns-request"
          rows={4}
          value={values.initial_request}
          onChange={set('initial_request')}
          className={inputClass(errors.initial_request)}
        />
      </Field>
      <div className="grid gap-4 sm:grid-cols-2">
        <Field id="ns-provider" label="Host provider" error={errors.host_provider}>
          <select id="ns-provider" value={values.host_provider} onChange={set('host_provider')} className={inputClass(errors.host_provider)}>
            {HOST_PROVIDERS.map((option) => (
              <option key={option.value} value={option.value}>
                {option.label}
              </option>
            ))}
          </select>
        </Field>
        <Field id="ns-type" label="Site type" error={errors.site_type}>
          <select id="ns-type" value={values.site_type} onChange={set('site_type')} className={inputClass(errors.site_type)}>
            {SITE_TYPES.map((option) => (
              <option key={option.value} value={option.value}>
                {option.label}
              </option>
            ))}
          </select>
        </Field>
      </div>
      {failure && (
        <p role="alert" className="text-sm text-red-700">
          {failure}
        </p>
      )}
      <button
        type="submit"
        disabled={saving}
        className="rounded-md bg-sky-600 px-4 py-2 text-sm font-semibold text-white hover:bg-sky-700 disabled:opacity-50"
      >
        {saving ? 'Opening…' : 'Open session'}
      </button>
    </form>
  )
}
