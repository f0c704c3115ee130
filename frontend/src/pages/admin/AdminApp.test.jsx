import { screen, waitFor } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { afterEach, describe, expect, it } from 'vitest'

import { ADMIN_TOKEN_KEY, clearAdminToken, readAdminToken, storeAdminToken } from '../../api/admin.js'
import { authorizationOf, mockFetch, renderInBrowserAt } from '../../test/helpers.jsx'
import { ADMIN_TOKEN, apiRoutes, session } from './testData.js'

afterEach(() => clearAdminToken())

function adminApi(extra = {}) {
  return apiRoutes({
    'GET /api/admin/sessions': (url, init) =>
      authorizationOf([url, init]) === `Bearer ${ADMIN_TOKEN}`
        ? { sessions: [session()], next_cursor: null }
        : authorizationOf([url, init]) === 'Bearer client-link-token'
          ? [403, { error: 'Forbidden', message: 'this needs the admin credential' }]
          : [401, { error: 'Unauthorized', message: 'the token is not valid' }],
    ...extra,
  })
}

// Generous: the whole suite shares two cores, and typing with userEvent is slow under load.
describe('admin sign-in', { timeout: 20_000 }, () => {
  it('sends every admin page to the login without a token, and back after it', async () => {
    const fetchMock = mockFetch(adminApi())
    renderInBrowserAt('/admin/sessions?filter=deleted')

    expect(await screen.findByRole('heading', { name: 'Admin sign-in' })).toBeInTheDocument()
    expect(window.location.pathname).toBe('/admin/login')
    expect(new URLSearchParams(window.location.search).get('next')).toBe('/admin/sessions?filter=deleted')
    expect(fetchMock).not.toHaveBeenCalled()

    await userEvent.type(screen.getByLabelText('Admin token'), ADMIN_TOKEN)
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }))

    expect(await screen.findByRole('heading', { name: 'Sessions' })).toBeInTheDocument()
    expect(window.location.pathname + window.location.search).toBe('/admin/sessions?filter=deleted')
    expect(window.sessionStorage.getItem(ADMIN_TOKEN_KEY)).toBe(ADMIN_TOKEN)
    expect(window.localStorage.getItem(ADMIN_TOKEN_KEY)).toBeNull()
    // The token is checked by the server before it is kept.
    expect(authorizationOf(fetchMock.mock.calls[0])).toBe(`Bearer ${ADMIN_TOKEN}`)
  })

  it('refuses a wrong token and a client token, keeping neither', async () => {
    mockFetch(adminApi())
    renderInBrowserAt('/admin/login')

    await userEvent.type(screen.getByLabelText('Admin token'), 'wrong')
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }))
    expect(await screen.findByRole('alert')).toHaveTextContent('That admin token is not valid.')

    await userEvent.clear(screen.getByLabelText('Admin token'))
    await userEvent.type(screen.getByLabelText('Admin token'), 'client-link-token')
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }))
    expect(await screen.findByText('That is a client link token, not the admin token.')).toBeInTheDocument()
    expect(readAdminToken()).toBeNull()
    expect(window.location.pathname).toBe('/admin/login')
  })

  it('never sends the user back anywhere but an admin page', async () => {
    mockFetch(adminApi())
    renderInBrowserAt('/admin/login?next=https%3A%2F%2Fevil.example%2F')
    await userEvent.type(screen.getByLabelText('Admin token'), ADMIN_TOKEN)
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }))
    await waitFor(() => expect(window.location.pathname).toBe('/admin/sessions'))
  })

  it('forgets the token on any 401 and shows the login again', async () => {
    storeAdminToken('revoked-token')
    mockFetch(adminApi())
    renderInBrowserAt('/admin/sessions')

    expect(await screen.findByRole('heading', { name: 'Admin sign-in' })).toBeInTheDocument()
    expect(readAdminToken()).toBeNull()
  })

  it('signs out', async () => {
    storeAdminToken(ADMIN_TOKEN)
    mockFetch(adminApi())
    renderInBrowserAt('/admin')
    expect(await screen.findByRole('heading', { name: 'Sessions' })).toBeInTheDocument()

    await userEvent.click(screen.getByRole('button', { name: 'Sign out' }))
    expect(await screen.findByRole('heading', { name: 'Admin sign-in' })).toBeInTheDocument()
    expect(window.sessionStorage.getItem(ADMIN_TOKEN_KEY)).toBeNull()
  })
})
