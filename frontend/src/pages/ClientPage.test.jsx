import { screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'

import { CLIENT_TOKEN_KEY, storeClientToken } from '../api/credentials.js'
import {
  authorizationOf,
  jsonResponse,
  mockFetch,
  renderAt,
  renderInBrowserAt,
} from '../test/helpers.jsx'

const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJl'

function project(overrides = {}) {
  return {
    session_id: 's1',
    user_id: 'u1',
    name: 'Bakery site',
    status: 'active',
    archived: false,
    created_at: '2025-01-05T10:00:00Z',
    deployed_url: 'http://tmux-u1-bakery.local/',
    latest_execution_id: 'exec-1',
    client_name: 'Ana Lima',
    ...overrides,
  }
}

describe('ClientPage', () => {
  it('stores the token from the link, clears it from the address bar and lists the projects', async () => {
    const fetchMock = mockFetch(() =>
      jsonResponse(200, {
        projects: [
          project(),
          project({ session_id: 's2', name: 'Old portfolio', archived: true, deployed_url: null, latest_execution_id: 'exec-0' }),
        ],
      }),
    )
    renderInBrowserAt(`/client#token=${TOKEN}`)

    const list = await screen.findByRole('list', { name: 'Your projects' })
    expect(window.localStorage.getItem(CLIENT_TOKEN_KEY)).toBe(TOKEN)
    expect(window.location.pathname).toBe('/client')
    expect(window.location.hash).toBe('')
    expect(window.location.href).not.toContain(TOKEN)

    expect(fetchMock).toHaveBeenCalledTimes(1)
    expect(fetchMock.mock.calls[0][0]).toBe('/api/client/projects')
    expect(authorizationOf(fetchMock.mock.calls[0])).toBe(`Bearer ${TOKEN}`)

    const cards = within(list).getAllByRole('listitem')
    expect(cards).toHaveLength(2)
    expect(cards[0]).toHaveTextContent('Bakery site')
    expect(cards[0]).toHaveTextContent('Active')
    expect(within(cards[0]).getByRole('link', { name: /View build progress/ })).toHaveAttribute('href', '/status/exec-1')
    expect(within(cards[0]).getByRole('link', { name: /Open live site/ })).toHaveAttribute(
      'href',
      'http://tmux-u1-bakery.local/',
    )
    expect(cards[1]).toHaveTextContent('Old portfolio')
    expect(cards[1]).toHaveTextContent('Archived')
    expect(screen.getByText('Signed in as Ana Lima.')).toBeInTheDocument()
    expect(screen.getByRole('link', { name: 'My projects' })).toHaveAttribute('href', '/client')
  })

  it('replaces an older stored token with the one in the link', async () => {
    storeClientToken('older.token')
    const fetchMock = mockFetch(() => jsonResponse(200, { projects: [project()] }))
    renderAt(`/client#token=${TOKEN}`)

    await screen.findByRole('list', { name: 'Your projects' })
    expect(screen.getByTestId('location-hash')).toBeEmptyDOMElement()
    expect(fetchMock.mock.calls.map(authorizationOf)).toEqual([`Bearer ${TOKEN}`])
  })

  it('uses the stored token when opened without a fragment', async () => {
    storeClientToken(TOKEN)
    const fetchMock = mockFetch(() => jsonResponse(200, { projects: [project()] }))
    renderAt('/client')

    await screen.findByRole('link', { name: /View build progress of Bakery site/ })
    expect(authorizationOf(fetchMock.mock.calls[0])).toBe(`Bearer ${TOKEN}`)
  })

  it('says so kindly when there are no projects yet', async () => {
    mockFetch(() => jsonResponse(200, { projects: [] }))
    renderAt(`/client#token=${TOKEN}`)

    expect(await screen.findByText(/You have no projects yet/)).toBeInTheDocument()
    expect(screen.queryByRole('list', { name: 'Your projects' })).not.toBeInTheDocument()
  })

  it('explains an expired or invalid link on 401', async () => {
    mockFetch(() => jsonResponse(401, { error: 'Unauthorized', message: 'the token has expired; ask for a new link' }))
    renderAt(`/client#token=${TOKEN}`)

    expect(
      await screen.findByRole('heading', { name: 'Your link has expired or is invalid' }),
    ).toBeInTheDocument()
    expect(screen.getByText(/most recent personal link/)).toBeInTheDocument()
    expect(screen.getByRole('link', { name: 'Request a website' })).toHaveAttribute('href', '/')
  })

  it('asks for the personal link without calling the API when there is no token', () => {
    const fetchMock = mockFetch(() => jsonResponse(200, { projects: [] }))
    renderAt('/client')

    expect(screen.getByRole('heading', { name: 'Your personal link is needed' })).toBeInTheDocument()
    expect(fetchMock).not.toHaveBeenCalled()
  })

  it('offers to try again when the server cannot be reached', async () => {
    let calls = 0
    mockFetch(() => {
      calls += 1
      if (calls === 1) throw new TypeError('Failed to fetch')
      return jsonResponse(200, { projects: [project()] })
    })
    const user = userEvent.setup()
    renderAt(`/client#token=${TOKEN}`)

    expect(await screen.findByRole('alert')).toHaveTextContent(/Could not reach the server/)
    await user.click(screen.getByRole('button', { name: 'Try again' }))
    await waitFor(() => expect(screen.getByRole('list', { name: 'Your projects' })).toBeInTheDocument())
    expect(screen.queryByRole('alert')).not.toBeInTheDocument()
  })
})
