import { screen, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import { clearAdminToken, storeAdminToken } from '../../api/admin.js'
import { mockFetch, renderInBrowserAt } from '../../test/helpers.jsx'
import { ADMIN_TOKEN, apiRoutes, session } from './testData.js'

beforeEach(() => storeAdminToken(ADMIN_TOKEN))
afterEach(() => clearAdminToken())

function listCalls(fetchMock) {
  return fetchMock.mock.calls
    .map(([url]) => new URL(url, 'http://portal'))
    .filter((url) => url.pathname === '/api/admin/sessions')
    .map((url) => Object.fromEntries(url.searchParams))
}

// Generous: the whole suite shares two cores, and typing with userEvent is slow under load.
describe('sessions list', { timeout: 20_000 }, () => {
  it('filters by tab, searches, and pages with the API cursor', async () => {
    const fetchMock = mockFetch(
      apiRoutes({
        'GET /api/admin/sessions': (url) => {
          const params = new URL(url, 'http://portal').searchParams
          if (params.get('cursor') === 'page-2') {
            return { sessions: [session({ session_id: 'sess_2', email: 'second@example.com' })], next_cursor: null }
          }
          return { sessions: [session()], next_cursor: 'page-2' }
        },
      }),
    )
    renderInBrowserAt('/admin/sessions')

    const table = await screen.findByRole('table')
    expect(await within(table).findByText('ada@example.com')).toBeInTheDocument()
    expect(listCalls(fetchMock).at(-1)).toMatchObject({ filter: 'all', limit: '20' })

    await userEvent.click(screen.getByRole('tab', { name: 'Deleted' }))
    expect(screen.getByRole('tab', { name: 'Deleted' })).toHaveAttribute('aria-selected', 'true')
    await screen.findByText('ada@example.com')
    expect(listCalls(fetchMock).at(-1)).toMatchObject({ filter: 'deleted' })
    expect(window.location.search).toBe('?filter=deleted')

    await userEvent.type(screen.getByRole('searchbox', { name: 'Search sessions' }), 'ada')
    await userEvent.click(screen.getByRole('button', { name: 'Search' }))
    await screen.findByText('ada@example.com')
    expect(listCalls(fetchMock).at(-1)).toMatchObject({ filter: 'deleted', q: 'ada' })

    await userEvent.click(screen.getByRole('button', { name: 'Next' }))
    expect(await screen.findByText('second@example.com')).toBeInTheDocument()
    expect(listCalls(fetchMock).at(-1)).toMatchObject({ cursor: 'page-2', q: 'ada' })
    expect(screen.getByRole('button', { name: 'Next' })).toBeDisabled()

    await userEvent.click(screen.getByRole('button', { name: 'Previous' }))
    expect(await screen.findByText('ada@example.com')).toBeInTheDocument()
    expect(listCalls(fetchMock).at(-1).cursor).toBeUndefined()
    expect(screen.getByRole('link', { name: 'Open the session of ada@example.com' })).toHaveAttribute(
      'href',
      `/admin/sessions/${session().session_id}`,
    )
  })

  it('opens a session for a user and links to it', async () => {
    const fetchMock = mockFetch(
      apiRoutes({
        'GET /api/admin/sessions': { sessions: [], next_cursor: null },
        'POST /api/admin/sessions': (url, init) => {
          const body = JSON.parse(init.body)
          if (!body.email.includes('@'))
            return [400, { error: 'ValidationError', message: 'bad', fields: [{ field: 'email', message: 'not an e-mail' }] }]
          return [
            201,
            {
              user_id: 'b'.repeat(32),
              session_id: 'sess_new',
              execution_id: null,
              is_new_user: true,
              client_url: 'http://portal/client#token=t',
              client_token: 't',
            },
          ]
        },
      }),
    )
    renderInBrowserAt('/admin/sessions/new')

    await userEvent.type(await screen.findByLabelText('E-mail'), 'nobody')
    await userEvent.click(screen.getByRole('button', { name: 'Open session' }))
    expect(await screen.findByText('not an e-mail')).toBeInTheDocument()

    await userEvent.clear(screen.getByLabelText('E-mail'))
    await userEvent.type(screen.getByLabelText('E-mail'), 'new@example.com')
    await userEvent.type(screen.getByLabelText('Client name'), 'New Client')
    await userEvent.click(screen.getByRole('button', { name: 'Open session' }))

    expect(await screen.findByRole('heading', { name: 'Session opened' })).toBeInTheDocument()
    expect(screen.getByRole('link', { name: 'Open the session' })).toHaveAttribute('href', '/admin/sessions/sess_new')
    const sent = JSON.parse(fetchMock.mock.calls.filter(([, init]) => init?.method === 'POST').at(-1)[1].body)
    expect(sent).toEqual({ email: 'new@example.com', client_name: 'New Client', host_provider: 'aws', site_type: 'static' })
  })
})
