// Client-side checks of the onboarding form. They mirror the body of `POST /api/requests` in
// control_plane/api_models.py so most mistakes are caught before a round trip; the server
// stays the authority and its field errors are shown the same way.

export const NAME_MAX = 100
export const REQUEST_MIN = 10
export const REQUEST_MAX = 4000
export const PHONE_MIN = 7
export const PHONE_MAX = 20

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/
const PHONE = /^\+?[0-9][0-9 -]*[0-9]$/
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARS = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/

export const HOST_PROVIDERS = [
  { value: 'aws', label: 'AWS', available: true },
  { value: 'azure', label: 'Azure', available: true },
]

export const SITE_TYPES = [
  { value: 'static', label: 'Static site', available: true },
  { value: 'dynamic', label: 'Dynamic app', available: true },
]

export const EMPTY_FORM = {
  name: '',
  email: '',
  phone: '',
  initialRequest: '',
  hostProvider: 'aws',
  siteType: 'static',
}

function nameError(value) {
  const name = value.trim()
  if (!name) return 'Tell us your name.'
  if (name.length > NAME_MAX) return `Please keep your name under ${NAME_MAX} characters.`
  if (CONTROL_CHARS.test(name)) return 'Remove the invisible control characters.'
  return null
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

function initialRequestError(value) {
  const text = value.trim()
  if (!text) return 'Tell us what to build.'
  if (text.length < REQUEST_MIN) {
    return `Please write at least ${REQUEST_MIN} characters.`
  }
  if (text.length > REQUEST_MAX) {
    return `Please keep it under ${REQUEST_MAX} characters (now ${text.length}).`
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
    name: nameError(values.name),
    email: emailError(values.email),
    phone: phoneError(values.phone),
    initialRequest: initialRequestError(values.initialRequest),
    hostProvider: optionError(HOST_PROVIDERS, values.hostProvider, 'host provider'),
    siteType: optionError(SITE_TYPES, values.siteType, 'site type'),
  }
  return Object.fromEntries(Object.entries(errors).filter(([, message]) => message))
}

/** The trimmed values that go to the API. */
export function toOnboardingInput(values) {
  return {
    name: values.name.trim(),
    email: values.email.trim(),
    phone: values.phone.trim(),
    hostProvider: values.hostProvider,
    siteType: values.siteType,
    initialRequest: values.initialRequest.trim(),
  }
}

// API field names (pydantic `loc`) -> form field names.
const API_FIELDS = {
  name: 'name',
  email: 'email',
  phone: 'phone',
  initial_request: 'initialRequest',
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

/**
 * Where the portal goes after `POST /api/requests` answered.
 *
 * Following a build needs the client token, and the API shares it only with the person whose
 * account the request created (anyone can type someone else's e-mail), so:
 * - `{ kind: 'status', executionId }`: approved with a token and a build id; follow the build.
 * - `{ kind: 'projects' }`: approved with a token but no build id; list the projects.
 * - `{ kind: 'received', approved }`: pending review, or approved without a token (the owner
 *   follows it through their own link); say thank you.
 */
export function afterRequestAnswer(answer) {
  const approved = answer?.status === 'approved'
  if (approved && answer.client_token) {
    if (answer.execution_id) return { kind: 'status', executionId: answer.execution_id }
    return { kind: 'projects' }
  }
  return { kind: 'received', approved }
}
