import { screen, waitFor } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'

import { CLIENT_TOKEN_KEY } from '../api/credentials.js'
import { authorizationOf, jsonResponse, mockFetch, renderAt, statusBody } from '../test/helpers.jsx'

const REQUIREMENTS = 'A landing page for my bakery with a menu.'

const APPROVED = {
  request_id: 'req-1',
  status: 'approved',
  message: 'Your build has started.',
  client_url: 'http://portal.local/client#token=signed.client.token',
  client_token: 'signed.client.token',
  execution_id: 'exec-1',
  session_id: 's1',
  user_id: 'u1',
}

async function fillValidForm(user) {
  await user.type(screen.getByLabelText(/^Your name/), '  Ana Lima ')
  await user.type(screen.getByLabelText(/^Email/), 'ana@example.com')
  await user.type(screen.getByLabelText(/^Phone/), '+1 555-123-4567')
  await user.type(screen.getByLabelText(/What should we build/), REQUIREMENTS)
}

const submitButton = () => screen.getByRole('button', { name: /start building|sending your request/i })

describe('OnboardingPage', () => {
  it('shows a message for an invalid email and does not submit', async () => {
    const fetchMock = mockFetch(() => jsonResponse(202, {}))
    const user = userEvent.setup()
    renderAt('/')

    await user.type(screen.getByLabelText(/^Your name/), 'Ana')
    await user.type(screen.getByLabelText(/^Email/), 'not-an-email')
    await user.type(screen.getByLabelText(/What should we build/), REQUIREMENTS)
    await user.click(submitButton())

    expect(screen.getByLabelText(/^Email/)).toHaveAccessibleDescription('Enter a valid email address.')
    expect(screen.getByLabelText(/^Email/)).toHaveAttribute('aria-invalid', 'true')
    expect(fetchMock).not.toHaveBeenCalled()
    expect(screen.getByTestId('location')).toHaveTextContent(/^\/$/)
  })

  it('shows every required-field message on an empty submit', async () => {
    const fetchMock = mockFetch(() => jsonResponse(202, {}))
    const user = userEvent.setup()
    renderAt('/client_input')

    await user.click(submitButton())

    expect(screen.getByText('Tell us your name.')).toBeInTheDocument()
    expect(screen.getByText('Email is required.')).toBeInTheDocument()
    expect(screen.getByText('Tell us what to build.')).toBeInTheDocument()
    expect(fetchMock).not.toHaveBeenCalled()
  })

  it('validates phone and requirements length on blur', async () => {
    mockFetch(() => jsonResponse(202, {}))
    const user = userEvent.setup()
    renderAt('/')

    await user.type(screen.getByLabelText(/^Phone/), '12ab')
    await user.type(screen.getByLabelText(/What should we build/), 'short')
    await user.tab()

    expect(screen.getByText('Phone must be 7–20 characters.')).toBeInTheDocument()
    expect(screen.getByText('Please write at least 10 characters.')).toBeInTheDocument()
  })

  it('offers AWS and Azure, static and dynamic, with AWS static chosen', () => {
    mockFetch(() => jsonResponse(202, {}))
    renderAt('/')

    expect(screen.getByRole('radio', { name: /AWS/ })).toBeChecked()
    expect(screen.getByRole('radio', { name: /Azure/ })).toBeEnabled()
    expect(screen.getByRole('radio', { name: /Static/ })).toBeChecked()
    expect(screen.getByRole('radio', { name: /Dynamic/ })).toBeEnabled()
    expect(screen.queryByText('coming soon')).toBeNull()
  })

  it('posts the trimmed form to /api/requests and follows the approved build', async () => {
    const fetchMock = mockFetch((url) =>
      url === '/api/requests' ? jsonResponse(202, APPROVED) : jsonResponse(200, statusBody()),
    )
    window.localStorage.setItem(CLIENT_TOKEN_KEY, 'an.older.token')
    const user = userEvent.setup()
    renderAt('/')

    await fillValidForm(user)
    await user.type(screen.getByLabelText(/What should we build/), '   ')
    await user.click(submitButton())

    await waitFor(() => expect(screen.getByTestId('location')).toHaveTextContent('/status/exec-1'))
    const [url, init] = fetchMock.mock.calls[0]
    expect(url).toBe('/api/requests')
    expect(init.method).toBe('POST')
    expect(init.headers['Content-Type']).toBe('application/json')
    expect(authorizationOf(fetchMock.mock.calls[0])).toBeUndefined()
    expect(JSON.parse(init.body)).toEqual({
      name: 'Ana Lima',
      email: 'ana@example.com',
      phone: '+1 555-123-4567',
      initial_request: REQUIREMENTS,
      host_provider: 'aws',
      site_type: 'static',
    })
    expect(window.localStorage.getItem(CLIENT_TOKEN_KEY)).toBe('signed.client.token')
    expect(await screen.findByRole('heading', { name: 'Build status' })).toBeInTheDocument()
    // The status page asks with the new token.
    const statusCall = fetchMock.mock.calls.find(([u]) => u === '/api/status/exec-1')
    expect(authorizationOf(statusCall)).toBe('Bearer signed.client.token')
    // ... and shows the personal link once, to keep.
    expect(screen.getByRole('link', { name: 'your personal link' })).toHaveAttribute('href', APPROVED.client_url)
  })

  it('goes to the projects page when approved without a build id', async () => {
    mockFetch((url) =>
      url === '/api/requests'
        ? jsonResponse(202, { ...APPROVED, execution_id: undefined })
        : jsonResponse(200, { projects: [] }),
    )
    const user = userEvent.setup()
    renderAt('/')

    await fillValidForm(user)
    await user.click(submitButton())

    await waitFor(() => expect(screen.getByTestId('location')).toHaveTextContent(/^\/client$/))
    expect(window.localStorage.getItem(CLIENT_TOKEN_KEY)).toBe('signed.client.token')
  })

  it('thanks the person when the request waits for review', async () => {
    const fetchMock = mockFetch(() =>
      jsonResponse(202, {
        request_id: 'req-42',
        status: 'pending',
        message: 'We will get back to you within one working day.',
      }),
    )
    const user = userEvent.setup()
    renderAt('/client_input')

    await fillValidForm(user)
    await user.click(submitButton())

    expect(await screen.findByRole('heading', { name: 'Thank you, Ana Lima!' })).toBeInTheDocument()
    expect(screen.getByText(/will review it/)).toBeInTheDocument()
    expect(screen.getByRole('status')).toHaveTextContent('We will get back to you within one working day.')
    expect(screen.getByText('req-42')).toBeInTheDocument()
    expect(screen.getByTestId('location')).toHaveTextContent('/client_input')
    expect(window.localStorage.getItem(CLIENT_TOKEN_KEY)).toBeNull()
    expect(fetchMock).toHaveBeenCalledTimes(1)

    await user.click(screen.getByRole('button', { name: 'Send another request' }))
    expect(screen.getByLabelText(/^Your name/)).toHaveValue('')
  })

  it('does not follow a build the answer gave no token for', async () => {
    const fetchMock = mockFetch(() =>
      jsonResponse(202, {
        request_id: 'req-7',
        status: 'approved',
        message: 'Your build has started.',
        execution_id: 'exec-9',
      }),
    )
    const user = userEvent.setup()
    renderAt('/')

    await fillValidForm(user)
    await user.click(submitButton())

    expect(await screen.findByRole('heading', { name: 'Thank you, Ana Lima!' })).toBeInTheDocument()
    expect(screen.getByText(/your build has started/)).toBeInTheDocument()
    expect(screen.getByTestId('location')).toHaveTextContent(/^\/$/)
    expect(fetchMock).toHaveBeenCalledTimes(1)
  })

  it('shows the rate-limit message with when to try again', async () => {
    mockFetch(() =>
      jsonResponse(
        429,
        { error: 'TooManyRequests', message: 'Too many requests from this address' },
        { 'Retry-After': '120' },
      ),
    )
    const user = userEvent.setup()
    renderAt('/')

    await fillValidForm(user)
    await user.click(submitButton())

    expect(await screen.findByRole('alert')).toHaveTextContent(
      'Too many requests from this address. Please try again in 2 minutes.',
    )
    expect(submitButton()).toBeEnabled()
    expect(screen.getByTestId('location')).toHaveTextContent(/^\/$/)
  })

  it('says to try later on a 429 without Retry-After', async () => {
    mockFetch(() => jsonResponse(429, undefined))
    const user = userEvent.setup()
    renderAt('/')

    await fillValidForm(user)
    await user.click(submitButton())

    expect(await screen.findByRole('alert')).toHaveTextContent('Too many requests. Please try again later.')
  })

  it('sends phone as null when it is left empty', async () => {
    const fetchMock = mockFetch(() => new Promise(() => {}))
    const user = userEvent.setup()
    renderAt('/')

    await user.type(screen.getByLabelText(/^Your name/), 'Ana')
    await user.type(screen.getByLabelText(/^Email/), 'ana@example.com')
    await user.type(screen.getByLabelText(/What should we build/), REQUIREMENTS)
    await user.click(submitButton())

    expect(JSON.parse(fetchMock.mock.calls[0][1].body).phone).toBeNull()
  })

  it('disables submit while the request is in flight', async () => {
    let answer
    const fetchMock = mockFetch(() => new Promise((resolve) => (answer = resolve)))
    const user = userEvent.setup()
    renderAt('/')

    await fillValidForm(user)
    await user.click(submitButton())

    expect(submitButton()).toBeDisabled()
    expect(submitButton()).toHaveTextContent('Sending your request…')
    await user.click(submitButton())
    expect(fetchMock).toHaveBeenCalledTimes(1)

    answer(jsonResponse(500, { error: 'InternalError', message: 'boom' }))
    await waitFor(() => expect(submitButton()).toBeEnabled())
    expect(screen.getByRole('alert')).toHaveTextContent('boom')
  })

  it('shows server field errors on the matching inputs', async () => {
    mockFetch(() =>
      jsonResponse(400, {
        error: 'ValidationError',
        message: 'invalid field(s): email, initial_request, name',
        fields: [
          { field: 'email', message: 'The domain name example.invalid does not exist.' },
          { field: 'initial_request', message: 'must not be blank' },
          { field: 'name', message: 'must not contain control characters' },
        ],
      }),
    )
    const user = userEvent.setup()
    renderAt('/')

    await fillValidForm(user)
    await user.click(submitButton())

    const email = screen.getByLabelText(/^Email/)
    await waitFor(() =>
      expect(email).toHaveAccessibleDescription('The domain name example.invalid does not exist.'),
    )
    expect(screen.getByLabelText(/What should we build/)).toHaveAccessibleDescription(
      expect.stringContaining('must not be blank'),
    )
    expect(screen.getByLabelText(/^Your name/)).toHaveAccessibleDescription('must not contain control characters')
    expect(screen.getByLabelText(/^Phone/)).not.toHaveAttribute('aria-invalid')
    expect(screen.getByTestId('location')).toHaveTextContent(/^\/$/)

    // Editing the field clears its server message.
    await user.type(email, 'x')
    expect(screen.queryByText('The domain name example.invalid does not exist.')).not.toBeInTheDocument()
  })

  it('shows server errors without a known field above the form', async () => {
    mockFetch(() =>
      jsonResponse(422, { error: 'NotSupported', message: 'azure hosting is not available yet' }),
    )
    const user = userEvent.setup()
    renderAt('/')

    await fillValidForm(user)
    await user.click(submitButton())

    expect(await screen.findByRole('alert')).toHaveTextContent('azure hosting is not available yet')
  })

  it('says so when the server cannot be reached', async () => {
    mockFetch(() => {
      throw new TypeError('Failed to fetch')
    })
    const user = userEvent.setup()
    renderAt('/')

    await fillValidForm(user)
    await user.click(submitButton())

    expect(await screen.findByRole('alert')).toHaveTextContent(/could not reach the server/i)
    expect(submitButton()).toBeEnabled()
  })
})
