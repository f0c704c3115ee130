import { screen, waitFor } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'

import { jsonResponse, mockFetch, renderAt, statusBody } from '../test/helpers.jsx'

const REQUIREMENTS = 'A landing page for my bakery with a menu.'

async function fillValidForm(user) {
  await user.type(screen.getByLabelText(/^Email/), 'ana@example.com')
  await user.type(screen.getByLabelText(/^Phone/), '+1 555-123-4567')
  await user.type(screen.getByLabelText(/What should we build/), REQUIREMENTS)
}

const submitButton = () => screen.getByRole('button', { name: /start building|starting/i })

describe('OnboardingPage', () => {
  it('shows a message for an invalid email and does not submit', async () => {
    const fetchMock = mockFetch(() => jsonResponse(202, {}))
    const user = userEvent.setup()
    renderAt('/')

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

  it('offers AWS static only; Azure and dynamic are disabled and coming soon', () => {
    mockFetch(() => jsonResponse(202, {}))
    renderAt('/')

    expect(screen.getByRole('radio', { name: /AWS/ })).toBeChecked()
    expect(screen.getByRole('radio', { name: /Azure/ })).toBeDisabled()
    expect(screen.getByRole('radio', { name: /Static/ })).toBeChecked()
    expect(screen.getByRole('radio', { name: /Dynamic/ })).toBeDisabled()
    expect(screen.getAllByText('coming soon')).toHaveLength(2)
  })

  it('posts the trimmed form and navigates to the status page', async () => {
    const fetchMock = mockFetch((url) =>
      url === '/api/create-user'
        ? jsonResponse(202, { execution_id: 'exec-1', user_id: 'u1', session_id: 's1', is_new_user: true })
        : jsonResponse(200, statusBody()),
    )
    const user = userEvent.setup()
    renderAt('/')

    await fillValidForm(user)
    await user.type(screen.getByLabelText(/What should we build/), '   ')
    await user.click(submitButton())

    await waitFor(() => expect(screen.getByTestId('location')).toHaveTextContent('/status/exec-1'))
    const [url, init] = fetchMock.mock.calls[0]
    expect(url).toBe('/api/create-user')
    expect(init.method).toBe('POST')
    expect(init.headers['Content-Type']).toBe('application/json')
    expect(JSON.parse(init.body)).toEqual({
      email: 'ana@example.com',
      phone: '+1 555-123-4567',
      host_provider: 'aws',
      site_type: 'static',
      requirements: REQUIREMENTS,
    })
    expect(await screen.findByRole('heading', { name: 'Build status' })).toBeInTheDocument()
  })

  it('sends phone as null when it is left empty', async () => {
    const fetchMock = mockFetch(() => new Promise(() => {}))
    const user = userEvent.setup()
    renderAt('/')

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
    expect(submitButton()).toHaveTextContent('Starting your build…')
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
        message: 'invalid field(s): email, requirements',
        fields: [
          { field: 'email', message: 'The domain name example.invalid does not exist.' },
          { field: 'requirements', message: 'must not be blank' },
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
