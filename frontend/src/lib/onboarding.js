// Client-side checks of the onboarding form. They mirror `CreateUserRequest` in
// control_plane/api_models.py so most mistakes are caught before a round trip; the server
// stays the authority and its field errors are shown the same way.

export const REQUIREMENTS_MIN = 10
export const REQUIREMENTS_MAX = 4000
export const PHONE_MIN = 7
export const PHONE_MAX = 20

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/
const PHONE = /^\+?[0-9][0-9 -]*[0-9]$/
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARS = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/

export const HOST_PROVIDERS = [
  { value: 'aws', label: 'AWS', available: true },
  { value: 'azure', label: 'Azure', available: false },
]

export const SITE_TYPES = [
  { value: 'static', label: 'Static site', available: true },
  { value: 'dynamic', label: 'Dynamic app', available: false },
]

export const EMPTY_FORM = {
  email: '',
  phone: '',
  requirements: '',
  hostProvider: 'aws',
  siteType: 'static',
}

function emailError(value) {
  const email = value.trim()
  if (!email) return 'Email is required.'
  if (email.length > 254 || !EMAIL.test(email)) return 'Enter a valid email address.'
  return null
}

function phoneError(value) {
  const phone = value.trim()
  if (!phone) return null
  if (phone.length < PHONE_MIN || phone.length > PHONE_MAX) {
    return `Phone must be ${PHONE_MIN}–${PHONE_MAX} characters.`
  }
  if (!PHONE.test(phone)) return 'Use digits, spaces, dashes and an optional leading +.'
  return null
}

function requirementsError(value) {
  const text = value.trim()
  if (!text) return 'Tell us what to build.'
  if (text.length < REQUIREMENTS_MIN) {
    return `Please write at least ${REQUIREMENTS_MIN} characters.`
  }
  if (text.length > REQUIREMENTS_MAX) {
    return `Please keep it under ${REQUIREMENTS_MAX} characters (now ${text.length}).`
  }
  if (CONTROL_CHARS.test(text)) return 'Remove the invisible control characters.'
  return null
}

function optionError(options, value, what) {
  const option = options.find((o) => o.value === value)
  if (!option) return `Choose a ${what}.`
  if (!option.available) return `${option.label} is coming soon.`
  return null
}

/** Field name -> message for every invalid field; empty when the form can be sent. */
export function validateOnboarding(values) {
  const errors = {
    email: emailError(values.email),
    phone: phoneError(values.phone),
    requirements: requirementsError(values.requirements),
    hostProvider: optionError(HOST_PROVIDERS, values.hostProvider, 'host provider'),
    siteType: optionError(SITE_TYPES, values.siteType, 'site type'),
  }
  return Object.fromEntries(Object.entries(errors).filter(([, message]) => message))
}

/** The trimmed values that go to the API. */
export function toCreateUserInput(values) {
  return {
    email: values.email.trim(),
    phone: values.phone.trim(),
    hostProvider: values.hostProvider,
    siteType: values.siteType,
    requirements: values.requirements.trim(),
  }
}

// API field names (pydantic `loc`) -> form field names.
const API_FIELDS = {
  email: 'email',
  phone: 'phone',
  requirements: 'requirements',
  host_provider: 'hostProvider',
  site_type: 'siteType',
}

/**
 * Split the `fields` of an API error into messages for known inputs and the rest.
 *
 * Returns `{ fieldErrors: {formField: message}, other: [message] }`.
 */
export function mapServerFieldErrors(fields) {
  const fieldErrors = {}
  const other = []
  for (const { field, message } of fields ?? []) {
    const name = API_FIELDS[String(field).split('.')[0]]
    if (name && !fieldErrors[name]) fieldErrors[name] = message
    else if (!name) other.push(field ? `${field}: ${message}` : message)
  }
  return { fieldErrors, other }
}
