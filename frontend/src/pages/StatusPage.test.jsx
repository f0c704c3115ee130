import { act, fireEvent, screen, within } from '@testing-library/react'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

import { storeClientToken } from '../api/credentials.js'
import { POLL_INTERVAL_MS } from '../lib/buildStatus.js'
import { callsTo, mockApi } from '../test/apiRoutes.js'
import { FakeWebSocket } from '../test/fakeSocket.js'
import { authorizationOf, renderAt, statusBody } from '../test/helpers.jsx'

// Fake timers drive the poller; RTL's waitFor/findBy (and user-event) would wait on faked
// timers, so every test advances time explicitly, acts with fireEvent and asserts synchronously.
async function advance(ms = 0) {
  await act(() => vi.advanceTimersByTimeAsync(ms))
}

const STATUS_URL = '/api/status/exec-1'
const statusCalls = (fetchMock) => callsTo(fetchMock, STATUS_URL)

function succeededBody() {
  const body = statusBody({
    status: 'succeeded',
    current_step: null,
    ended_at: '2025-01-01T10:05:00.000Z',
    deployed_url: 'http://tmux-abc123-bakery.local/',
    screenshot_url: 'http://local/screens/exec-1.png',
    screenshots: { desktop_url: 'http://local/screens/exec-1.png', mobile_url: 'http://local/screens/exec-1-m.png' },
    e2e: { passed: 7, failed: 0, errors: 0, ok: true },
  })
  body.steps = body.steps.map((step) => ({ ...step, status: 'succeeded', duration_seconds: 2, attempts: 1 }))
  body.steps[5] = { ...body.steps[5], attempts: 3, duration_seconds: 75 }
  return body
}

/** The routes the build page calls; `status` answers GET /api/status/exec-1 in turn. */
function mockPage(status, extra = {}) {
  return mockApi({
    [STATUS_URL]: Array.isArray(status) ? status : [status],
    '/api/realtime': 404,
    '/api/chat/exec-1/history': { session_id: 's1', messages: [] },
    '/api/uploads?session_id=s1': { uploads: [] },
    '/api/client/projects/s1/history': { executions: [] },
    ...extra,
  })
}

describe('StatusPage without a realtime socket (polling)', () => {
  beforeEach(() => {
    vi.useFakeTimers()
  })

  afterEach(() => {
    vi.useRealTimers()
  })

  it('renders all nine steps with their status from the API', async () => {
    mockPage(statusBody())
    renderAt('/status/exec-1')
    await advance()

    const steps = within(screen.getByRole('list', { name: 'Build steps' })).getAllByRole('listitem')
    expect(steps).toHaveLength(9)
    expect(steps[0]).toHaveTextContent('1. Create user')
    expect(steps[0]).toHaveTextContent('Succeeded')
    expect(steps[0]).toHaveTextContent('1.2 s')
    expect(steps[3]).toHaveTextContent('4. Create plan')
    expect(steps[3]).toHaveAttribute('data-status', 'running')
    expect(steps[8]).toHaveTextContent('9. E2E tests')
    expect(steps[8]).toHaveAttribute('data-status', 'pending')
    const banner = screen.getAllByRole('status')[0]
    expect(banner).toHaveTextContent('Building your site…')
    expect(banner).toHaveTextContent('Now: Create plan')
    expect(screen.queryByRole('link', { name: /http/ })).not.toBeInTheDocument()
    expect(screen.getByRole('button', { name: 'Redeploy…' })).toBeDisabled()
    expect(screen.getByTestId('connection')).toHaveTextContent('Updating every few seconds')
  })

  it('shows the live URL, screenshot, E2E result and retries once the build succeeded', async () => {
    mockPage(succeededBody())
    renderAt('/status/exec-1')
    await advance()

    const link = screen.getByRole('link', { name: 'http://tmux-abc123-bakery.local/' })
    expect(link).toHaveAttribute('href', 'http://tmux-abc123-bakery.local/')
    expect(link).toHaveAttribute('target', '_blank')
    expect(link).toHaveAttribute('rel', expect.stringContaining('noopener'))
    expect(screen.getByAltText('Screenshot of the deployed site')).toHaveAttribute(
      'src',
      'http://local/screens/exec-1.png',
    )
    expect(screen.getByAltText('The deployed site on a phone')).toHaveAttribute(
      'src',
      'http://local/screens/exec-1-m.png',
    )
    expect(screen.getByTestId('e2e-result')).toHaveTextContent('E2E tests: passed (7 passed, 0 failed)')
    const deploy = screen.getByTestId('step-deploy')
    expect(deploy).toHaveTextContent('retried 2×')
    expect(deploy).toHaveTextContent('1 m 15 s')
    expect(screen.getAllByRole('status')[0]).toHaveTextContent('Your site is live.')
    expect(screen.getByRole('button', { name: 'Redeploy…' })).toBeEnabled()
  })

  it('counts errors as failed E2E tests', async () => {
    mockPage({ ...succeededBody(), e2e: { passed: 5, failed: 1, errors: 2, ok: false } })
    renderAt('/status/exec-1')
    await advance()
    expect(screen.getByTestId('e2e-result')).toHaveTextContent('E2E tests: failed (5 passed, 3 failed)')
  })

  it('polls every 1.5 s and stops on a terminal status', async () => {
    const fetchMock = mockPage([statusBody(), statusBody(), succeededBody()])
    renderAt('/status/exec-1')
    await advance()
    expect(statusCalls(fetchMock)).toHaveLength(1)

    await advance(POLL_INTERVAL_MS - 1)
    expect(statusCalls(fetchMock)).toHaveLength(1)
    await advance(1)
    expect(statusCalls(fetchMock)).toHaveLength(2)
    await advance(POLL_INTERVAL_MS)
    expect(statusCalls(fetchMock)).toHaveLength(3)
    expect(screen.getAllByRole('status')[0]).toHaveTextContent('Your site is live.')

    await advance(POLL_INTERVAL_MS * 10)
    expect(statusCalls(fetchMock)).toHaveLength(3)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('stops polling when the page unmounts', async () => {
    const fetchMock = mockPage(statusBody())
    const { unmount } = renderAt('/status/exec-1')
    await advance()
    expect(statusCalls(fetchMock)).toHaveLength(1)

    unmount()
    await advance(POLL_INTERVAL_MS * 5)
    expect(statusCalls(fetchMock)).toHaveLength(1)
  })

  it('shows the failure with the failing step and stops polling', async () => {
    const body = statusBody({
      status: 'failed',
      current_step: null,
      ended_at: '2025-01-01T10:02:00.000Z',
      error: { step: 'deploy', error: 'DeployError', cause: 'bucket tmux-abc-site already exists' },
    })
    body.steps[3] = { ...body.steps[3], status: 'succeeded' }
    body.steps[4] = { ...body.steps[4], status: 'succeeded' }
    body.steps[5] = {
      ...body.steps[5],
      status: 'failed',
      attempts: 2,
      error: { error: 'DeployError', cause: 'bucket tmux-abc-site already exists' },
    }
    const fetchMock = mockPage(body)
    renderAt('/status/exec-1')
    await advance()

    const panel = screen.getByRole('alert')
    expect(panel).toHaveTextContent('Failed at step “Deploy”')
    expect(panel).toHaveTextContent('DeployError')
    expect(panel).toHaveTextContent('bucket tmux-abc-site already exists')
    const deploy = screen.getByTestId('step-deploy')
    expect(deploy).toHaveAttribute('data-status', 'failed')
    expect(deploy).toHaveTextContent('DeployError: bucket tmux-abc-site already exists')
    expect(deploy).toHaveTextContent('retried 1×')

    await advance(POLL_INTERVAL_MS * 3)
    expect(statusCalls(fetchMock)).toHaveLength(1)
  })

  it('shows skipped steps of a redeploy', async () => {
    const body = statusBody({ current_step: 'deploy' })
    body.steps = body.steps.map((s, i) => (i < 5 ? { ...s, status: 'skipped', attempts: 0, duration_seconds: null } : s))
    mockPage(body)
    renderAt('/status/exec-1')
    await advance()
    expect(screen.getByTestId('step-create_plan')).toHaveTextContent('Skipped')
  })

  it('says there is no such build on 404 and stops polling', async () => {
    const fetchMock = mockPage(404)
    renderAt('/status/exec-1')
    await advance()

    expect(screen.getByRole('heading', { name: 'No build with this id' })).toBeInTheDocument()
    await advance(POLL_INTERVAL_MS * 3)
    expect(statusCalls(fetchMock)).toHaveLength(1)
  })

  it('asks with the stored client token on every poll', async () => {
    storeClientToken('signed.client.token')
    const fetchMock = mockPage(statusBody())
    renderAt('/status/exec-1')
    await advance()
    await advance(POLL_INTERVAL_MS)

    expect(statusCalls(fetchMock).map(authorizationOf)).toEqual([
      'Bearer signed.client.token',
      'Bearer signed.client.token',
    ])
    expect(callsTo(fetchMock, '/api/realtime').map(authorizationOf)).toEqual(['Bearer signed.client.token'])
  })

  it('asks for the sign-in link on 401 without a token and stops polling', async () => {
    const fetchMock = mockPage(401)
    renderAt('/status/exec-1')
    await advance()

    expect(screen.getByRole('heading', { name: 'Sign-in link needed' })).toBeInTheDocument()
    expect(screen.getByText(/most recent personal link/)).toBeInTheDocument()
    expect(screen.queryByRole('list', { name: 'Build steps' })).not.toBeInTheDocument()
    await advance(POLL_INTERVAL_MS * 3)
    expect(fetchMock).toHaveBeenCalledTimes(1)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('says the link expired on 401 with a stored token, even after earlier answers', async () => {
    storeClientToken('expired.client.token')
    const fetchMock = mockPage([statusBody(), 401])
    renderAt('/status/exec-1')
    await advance()
    expect(screen.getByRole('heading', { name: 'Build status' })).toBeInTheDocument()

    await advance(POLL_INTERVAL_MS)
    expect(screen.getByRole('heading', { name: 'Your sign-in link has expired' })).toBeInTheDocument()
    await advance(POLL_INTERVAL_MS * 3)
    expect(statusCalls(fetchMock)).toHaveLength(2)
  })

  it('says the build belongs to another account on 403 and stops polling', async () => {
    storeClientToken('someone.elses.token')
    const fetchMock = mockPage(403)
    renderAt('/status/exec-1')
    await advance()

    expect(screen.getByRole('heading', { name: 'This build belongs to another account' })).toBeInTheDocument()
    expect(screen.queryByRole('status')).not.toBeInTheDocument()
    await advance(POLL_INTERVAL_MS * 3)
    expect(statusCalls(fetchMock)).toHaveLength(1)
    expect(callsTo(fetchMock, '/api/chat/exec-1/history')).toHaveLength(0)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('keeps polling through network and server errors and recovers', async () => {
    const fetchMock = mockPage([new TypeError('Failed to fetch'), 503, statusBody()])
    renderAt('/status/exec-1')
    await advance()
    expect(screen.getByRole('alert')).toHaveTextContent(/Retrying/)

    await advance(POLL_INTERVAL_MS)
    expect(screen.getByRole('alert')).toHaveTextContent(/Retrying/)

    await advance(POLL_INTERVAL_MS)
    expect(statusCalls(fetchMock)).toHaveLength(3)
    expect(screen.queryByRole('alert')).not.toBeInTheDocument()
    expect(screen.getByTestId('step-create_plan')).toHaveAttribute('data-status', 'running')
  })

  it('lists the newest 20 readable activity lines first, without raw output', async () => {
    const activity = Array.from({ length: 25 }, (_, i) => ({
      at: `2025-01-01T10:00:${String(i).padStart(2, '0')}.000Z`,
      type: 'progress',
      step: 'create_plan',
      message: `line ${i}`,
    }))
    activity.push({ at: '2025-01-01T10:01:00.000Z', type: 'status', step: 'deploy', message: '{"s3_bucket":"tmux-x"}' })
    mockPage(statusBody({ activity }))
    renderAt('/status/exec-1')
    await advance()

    const list = screen.getByRole('list', { name: 'Latest activity' })
    const lines = within(list).getAllByRole('listitem')
    expect(lines).toHaveLength(20)
    expect(lines[0]).toHaveTextContent('line 24')
    expect(lines[0]).toHaveTextContent('[Create plan]')
    expect(lines[19]).toHaveTextContent('line 5')
    expect(list).not.toHaveTextContent('s3_bucket')
    expect(screen.queryByLabelText('Show raw messages')).not.toBeInTheDocument()
  })

  it('sends a chat message and shows the answer, rendered from markdown, when polling finds it', async () => {
    const question = {
      message_id: 'msg_1',
      role: 'user',
      text: 'Make the background blue',
      status: 'queued',
      at: '2025-01-01T10:03:00.000Z',
    }
    const answer = {
      message_id: 'msg_1-answer',
      role: 'assistant',
      text: 'Done:\n\n- background is **blue** now\n\n<img src=x onerror="alert(1)">',
      status: 'answered',
      at: '2025-01-01T10:03:02.000Z',
      in_reply_to: 'msg_1',
    }
    const fetchMock = mockPage(succeededBody(), {
      '/api/chat/exec-1/history': [
        { session_id: 's1', messages: [] },
        { session_id: 's1', messages: [question] },
        { session_id: 's1', messages: [{ ...question, status: 'answered' }, answer] },
      ],
      'POST /api/chat/exec-1': { message_id: 'msg_1', session_id: 's1', status: 'queued', at: question.at },
    })
    const { container } = renderAt('/status/exec-1')
    await advance()

    const box = screen.getByLabelText('Message to the AI')
    fireEvent.change(box, { target: { value: 'Make the background blue' } })
    fireEvent.keyDown(box, { key: 'Enter' })
    await advance()
    const [, init] = callsTo(fetchMock, '/api/chat/exec-1', 'POST')[0]
    expect(JSON.parse(init.body)).toEqual({ message: 'Make the background blue' })
    expect(screen.getByLabelText('Message to the AI')).toHaveValue('')
    expect(screen.getByTestId('chat-user')).toHaveAttribute('data-status', 'queued')
    expect(screen.getByTestId('chat-user')).toHaveTextContent(/Queued/)

    await advance(2000)
    expect(screen.queryByTestId('chat-assistant')).not.toBeInTheDocument()
    await advance(2000)
    const reply = screen.getByTestId('chat-assistant')
    expect(within(reply).getByRole('listitem')).toHaveTextContent('background is blue now')
    expect(within(reply).getByText('blue').tagName).toBe('STRONG')
    expect(container.querySelector('img[src="x"]')).toBeNull()
    expect(screen.getByTestId('chat-user')).toHaveAttribute('data-status', 'answered')

    // Nothing waits any more: the history is not asked again.
    const asked = callsTo(fetchMock, '/api/chat/exec-1/history').length
    await advance(10_000)
    expect(callsTo(fetchMock, '/api/chat/exec-1/history')).toHaveLength(asked)
  })

  it('shows why a chat message was refused and keeps the text', async () => {
    mockPage(succeededBody(), {
      'POST /api/chat/exec-1': () => {
        throw new TypeError('Failed to fetch')
      },
    })
    renderAt('/status/exec-1')
    await advance()
    fireEvent.change(screen.getByLabelText('Message to the AI'), { target: { value: 'Hello' } })
    fireEvent.click(screen.getByRole('button', { name: 'Send' }))
    await advance()
    expect(screen.getByRole('alert')).toHaveTextContent('Could not reach the server. Your message was not sent.')
    expect(screen.getByLabelText('Message to the AI')).toHaveValue('Hello')
  })

  it('redeploys after a confirmation and opens the new build', async () => {
    const fetchMock = mockPage(succeededBody(), {
      'POST /api/redeploy/exec-1': { execution_id: 'exec-2', source_execution_id: 'exec-1', from_step: 'generate_code' },
      '/api/status/exec-2': statusBody({ execution_id: 'exec-2', current_step: 'generate_code' }),
      '/api/chat/exec-2/history': { session_id: 's1', messages: [] },
    })
    renderAt('/status/exec-1')
    await advance()

    fireEvent.click(screen.getByRole('button', { name: 'Redeploy…' }))
    const dialog = screen.getByRole('dialog', { name: 'Redeploy this site?' })
    fireEvent.click(within(dialog).getByLabelText(/Write the code again/))
    fireEvent.click(within(dialog).getByRole('button', { name: 'Yes, redeploy' }))
    await advance()

    const [, init] = callsTo(fetchMock, '/api/redeploy/exec-1', 'POST')[0]
    expect(JSON.parse(init.body)).toEqual({ from_step: 'generate_code' })
    expect(screen.getByTestId('location')).toHaveTextContent('/status/exec-2')
    expect(screen.getByText(/Redeploy started/)).toBeInTheDocument()
    expect(screen.getByText('exec-2')).toBeInTheDocument()
  })

  it('says why a redeploy was refused', async () => {
    mockPage(succeededBody(), {
      'POST /api/redeploy/exec-1': () => {
        throw new TypeError('Failed to fetch')
      },
    })
    renderAt('/status/exec-1')
    await advance()
    fireEvent.click(screen.getByRole('button', { name: 'Redeploy…' }))
    fireEvent.click(screen.getByRole('button', { name: 'Yes, redeploy' }))
    await advance()
    expect(screen.getByRole('alert')).toHaveTextContent('Could not redeploy: Could not reach the server')
    fireEvent.click(screen.getByRole('button', { name: 'Cancel' }))
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument()
  })
})

describe('StatusPage with a realtime socket', () => {
  let server

  beforeEach(() => {
    vi.useFakeTimers()
    vi.stubGlobal('WebSocket', FakeWebSocket)
    FakeWebSocket.reset()
    storeClientToken('client.tok')
    server = statusBody()
  })

  afterEach(() => {
    vi.useRealTimers()
  })

  function mockLive(extra = {}) {
    return mockPage(() => server, { '/api/realtime': { url: 'wss://rt.test/ws', version: 1 }, ...extra })
  }

  it('turns steps green from events, without polling, and catches up after a reconnect', async () => {
    const fetchMock = mockLive()
    renderAt('/status/exec-1')
    await advance()
    const socket = FakeWebSocket.latest()
    expect(socket.url).toBe('wss://rt.test/ws?token=client.tok')
    const before = statusCalls(fetchMock).length

    act(() => socket.open())
    await advance()
    expect(screen.getByTestId('connection')).toHaveTextContent('Live')
    expect(socket.sent).toEqual([
      { action: 'subscribe', execution_id: 'exec-1' },
      { action: 'subscribe', session_id: 's1' },
    ])
    // The state is asked again after connecting (events may have been missed).
    expect(statusCalls(fetchMock)).toHaveLength(before + 1)

    act(() =>
      socket.receive({
        v: 1,
        type: 'step',
        execution_id: 'exec-1',
        session_id: 's1',
        step: 'create_plan',
        status: 'succeeded',
        attempt: 0,
        started_at: '2025-01-01T10:00:01.000Z',
        ended_at: '2025-01-01T10:00:05.000Z',
      }),
    )
    expect(screen.getByTestId('step-create_plan')).toHaveAttribute('data-status', 'succeeded')
    expect(screen.getByTestId('step-create_plan')).toHaveTextContent('4.0 s')

    act(() =>
      socket.receive({ v: 1, type: 'activity', execution_id: 'exec-1', at: '2025-01-01T10:00:06.000Z', activity_type: 'status', message: 'creating s3 bucket', step: 'deploy' }),
    )
    expect(screen.getByRole('list', { name: 'Latest activity' })).toHaveTextContent('Creating storage bucket...')

    // Another user's execution on the same socket changes nothing.
    act(() => socket.receive({ v: 1, type: 'step', execution_id: 'exec-9', step: 'deploy', status: 'failed', attempt: 0 }))
    expect(screen.getByTestId('step-deploy')).toHaveAttribute('data-status', 'pending')

    server.steps[3] = { ...server.steps[3], status: 'succeeded', duration_seconds: 4 }
    await advance(POLL_INTERVAL_MS * 10)
    // One refresh after the step event; no polling while the socket is open.
    expect(statusCalls(fetchMock)).toHaveLength(before + 2)

    act(() => socket.drop())
    expect(screen.getByTestId('connection')).toHaveTextContent('Reconnecting')
    await advance(POLL_INTERVAL_MS)
    expect(statusCalls(fetchMock).length).toBeGreaterThan(before + 2)

    const second = FakeWebSocket.latest()
    expect(second).not.toBe(socket)
    server.steps[4] = { ...server.steps[4], status: 'succeeded', duration_seconds: 3 }
    const polled = statusCalls(fetchMock).length
    act(() => second.open())
    await advance()
    expect(second.sent).toEqual([
      { action: 'subscribe', execution_id: 'exec-1' },
      { action: 'subscribe', session_id: 's1' },
    ])
    expect(statusCalls(fetchMock)).toHaveLength(polled + 1)
    expect(screen.getByTestId('step-generate_code')).toHaveAttribute('data-status', 'succeeded')
  })

  it('shows a chat answer from its event', async () => {
    mockLive()
    renderAt('/status/exec-1')
    await advance()
    const socket = FakeWebSocket.latest()
    act(() => socket.open())
    await advance()
    act(() =>
      socket.receive({
        v: 1,
        type: 'chat',
        session_id: 's1',
        execution_id: 'exec-1',
        turn: { message_id: 'msg_1-answer', role: 'assistant', text: 'Hello **there**', status: 'answered', at: 't', in_reply_to: 'msg_1' },
      }),
    )
    expect(screen.getByTestId('chat-assistant')).toHaveTextContent('Hello there')
    act(() =>
      socket.receive({
        v: 1,
        type: 'chat',
        session_id: 'someone-else',
        turn: { message_id: 'msg_9', role: 'assistant', text: 'not yours', status: 'answered', at: 't' },
      }),
    )
    expect(screen.queryByText('not yours')).not.toBeInTheDocument()
  })
})
