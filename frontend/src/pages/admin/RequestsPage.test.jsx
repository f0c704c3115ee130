import { screen, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import { clearAdminToken, storeAdminToken } from '../../api/admin.js'
import { mockFetch, renderInBrowserAt } from '../../test/helpers.jsx'
import { ADMIN_TOKEN, apiRoutes } from './testData.js'

beforeEach(() => storeAdminToken(ADMIN_TOKEN))
afterEach(() => clearAdminToken())

function request(id, email, status = 'pending') {
  return {
    request_id: id,
    name: 'Tea Lover',
    email,
    initial_request: 'A tea shop site with a dark theme',
    host_provider: 'aws',
    site_type: 'static',
    status,
    created_at: '2026-02-04T07:00:00.000Z',
  }
}

// Generous: the whole suite shares two cores, and typing with userEvent is slow under load.
describe('onboarding requests', { timeout: 20_000 }, () => {
  it('approves one request and rejects another with a reason', async () => {
    const decided = {}
    const fetchMock = mockFetch(
      apiRoutes({
        'GET /api/admin/requests': () => ({
          requests: [request('req_1', 'one@example.com'), request('req_2', 'two@example.com')].filter(
            (r) => !decided[r.request_id],
          ),
          next_cursor: null,
        }),
        'POST /api/admin/requests/req_1/approve': () => {
          decided.req_1 = 'approved'
          return { request_id: 'req_1', status: 'approved' }
        },
        'POST /api/admin/requests/req_2/reject': () => {
          decided.req_2 = 'rejected'
          return { request_id: 'req_2', status: 'rejected' }
        },
      }),
    )
    renderInBrowserAt('/admin/requests')

    const first = await screen.findByRole('listitem', { name: 'Request from one@example.com' })
    await userEvent.click(within(first).getByRole('button', { name: 'Approve' }))
    expect(await screen.findByRole('listitem', { name: 'Request from two@example.com' })).toBeInTheDocument()
    await screen.findByText('two@example.com')
    expect(screen.queryByText('one@example.com')).not.toBeInTheDocument()

    const second = screen.getByRole('listitem', { name: 'Request from two@example.com' })
    await userEvent.click(within(second).getByRole('button', { name: 'Reject' }))
    await userEvent.type(within(second).getByPlaceholderText('Reason (optional)'), 'Out of scope')
    await userEvent.click(within(second).getByRole('button', { name: 'Confirm rejection' }))
    expect(await screen.findByText('No requests here.')).toBeInTheDocument()

    const reject = fetchMock.mock.calls.find(([url]) => url.endsWith('/reject'))
    expect(JSON.parse(reject[1].body)).toEqual({ reason: 'Out of scope' })
    const listed = new URL(fetchMock.mock.calls[0][0], 'http://portal').searchParams
    expect(listed.get('status')).toBe('pending')
  })
})
