import { act, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import { clearAdminToken, storeAdminToken } from '../../api/admin.js'
import { mockFetch, renderInBrowserAt } from '../../test/helpers.jsx'
import { ADMIN_TOKEN, apiRoutes, detail, history, session, statusBody } from './testData.js'

beforeEach(() => storeAdminToken(ADMIN_TOKEN))
afterEach(() => clearAdminToken())

const SID = session().session_id
const EID = session().latest_execution_id

function routes(overrides = {}) {
  let paneCalls = 0
  const chat = []
  return apiRoutes({
    [`GET /api/admin/sessions/${SID}`]: detail(),
    [`GET /api/status/${EID}`]: statusBody(),
    [`GET /api/admin/executions/${EID}/history`]: history(),
    [`GET /api/admin/sessions/${SID}/pane`]: () => {
      paneCalls += 1
      return {
        session_id: SID,
        text: `$ claude\n> writing index.html (poll ${paneCalls})`,
        captured_at: '2026-02-04T07:00:00.000Z',
        source: 'live:step:generate_code',
        age_seconds: 1,
      }
    },
    [`GET /api/sessions/${SID}/chat`]: () => ({ session_id: SID, messages: chat, next_cursor: null }),
    [`POST /api/sessions/${SID}/chat`]: (url, init) => {
      const { message } = JSON.parse(init.body)
      chat.push({ message_id: 'msg_1', role: 'user', text: message, status: 'queued', at: '2026-02-04T07:02:00.000Z' })
      return [202, { message_id: 'msg_1', session_id: SID, status: 'queued', at: '2026-02-04T07:02:00.000Z' }]
    },
    ...overrides,
  })
}

// Generous: the whole suite shares two cores, and typing with userEvent is slow under load.
describe('session detail', { timeout: 20_000 }, () => {
  it('shows chat and activity side by side, the pane, and the execution history', async () => {
    mockFetch(routes())
    renderInBrowserAt(`/admin/sessions/${SID}`)

    expect(await screen.findByRole('heading', { name: 'ada@example.com' })).toBeInTheDocument()
    expect(screen.getByRole('region', { name: 'Chat' })).toBeInTheDocument()

    const activity = screen.getByRole('region', { name: 'Activity' })
    expect(await within(activity).findByText('Uploading 3 files...')).toBeInTheDocument()
    expect(within(activity).queryByText(/s3_bucket/)).not.toBeInTheDocument()
    await userEvent.click(within(activity).getByRole('button', { name: 'Raw: off' }))
    expect(within(activity).getByText(/s3_bucket/)).toBeInTheDocument()
    expect(within(activity).getByRole('button', { name: 'Raw: on' })).toHaveAttribute('aria-pressed', 'true')

    const pane = await screen.findByLabelText('Pane text')
    await waitFor(() => expect(pane).toHaveTextContent('writing index.html (poll 1)'))
    expect(screen.getByText(/Live, during a turn/)).toBeInTheDocument()

    const states = await screen.findByRole('list', { name: 'States' })
    const health = within(states).getByText('health_check').closest('details')
    expect(health).not.toHaveAttribute('open')
    await userEvent.click(within(health).getByText('health_check'))
    expect(health).toHaveAttribute('open')
    expect(within(health).getByText('2 attempts')).toBeInTheDocument()
    expect(within(health).getByText('SiteNotReady')).toBeInTheDocument()
    expect(within(health).getByText(/\[redacted\]/)).toBeInTheDocument()
  })

  it('polls the pane every 2 seconds', async () => {
    mockFetch(routes())
    renderInBrowserAt(`/admin/sessions/${SID}`)
    const pane = await screen.findByLabelText('Pane text')
    await waitFor(() => expect(pane).toHaveTextContent('(poll 1)'))
    await act(() => new Promise((resolve) => setTimeout(resolve, 2100)))
    await waitFor(() => expect(pane).toHaveTextContent('(poll 2)'))
  })

  it('sends a chat message as the admin', async () => {
    const fetchMock = mockFetch(routes())
    renderInBrowserAt(`/admin/sessions/${SID}`)
    const chat = await screen.findByRole('region', { name: 'Chat' })
    await userEvent.type(within(chat).getByLabelText('Message to the AI'), 'Make the header blue')
    await userEvent.click(within(chat).getByRole('button', { name: 'Send as admin' }))
    expect(await within(chat).findByText('Make the header blue')).toBeInTheDocument()
    const sent = fetchMock.mock.calls.find(([url, init]) => url.endsWith('/chat') && init?.method === 'POST')
    expect(sent[1].headers.Authorization).toBe(`Bearer ${ADMIN_TOKEN}`)
  })

  it('deletes the user only after a confirmation that names them', async () => {
    let deleted = false
    const fetchMock = mockFetch(
      routes({
        [`DELETE /api/admin/users/${'a'.repeat(32)}`]: () => {
          deleted = true
          return { user_id: 'a'.repeat(32), status: 'deleted', removed: [] }
        },
        'GET /api/admin/sessions': () => ({ sessions: [session({ status: deleted ? 'deleted' : 'live' })], next_cursor: null }),
      }),
    )
    renderInBrowserAt(`/admin/sessions/${SID}`)

    await userEvent.click(await screen.findByRole('button', { name: 'Delete user' }))
    const dialog = screen.getByRole('dialog', { name: 'Delete the user ada@example.com?' })
    await userEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }))
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument()
    expect(deleted).toBe(false)

    await userEvent.click(screen.getByRole('button', { name: 'Delete user' }))
    await userEvent.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Delete user' }))
    await waitFor(() => expect(window.location.pathname + window.location.search).toBe('/admin/sessions?filter=deleted'))
    expect(deleted).toBe(true)
    expect(await screen.findByText('deleted')).toBeInTheDocument()
    expect(fetchMock.mock.calls.some(([, init]) => init?.method === 'DELETE')).toBe(true)
  })

  it('completes a live session, and offers restore once completed', async () => {
    let status = 'live'
    mockFetch(
      routes({
        [`GET /api/admin/sessions/${SID}`]: () => detail({ status }),
        [`POST /api/admin/sessions/${SID}/complete`]: () => {
          status = 'completed'
          return session({ status })
        },
      }),
    )
    renderInBrowserAt(`/admin/sessions/${SID}`)
    await userEvent.click(await screen.findByRole('button', { name: 'Complete' }))
    const dialog = screen.getByRole('dialog', { name: 'Complete the session of ada@example.com?' })
    await userEvent.click(within(dialog).getByRole('button', { name: 'Complete' }))
    expect(await screen.findByRole('button', { name: 'Restore' })).toBeInTheDocument()
    expect(screen.queryByRole('button', { name: 'Complete' })).not.toBeInTheDocument()
  })
})
