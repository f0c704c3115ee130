import { act, screen, within } from '@testing-library/react'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

import { storeClientToken } from '../api/credentials.js'
import { POLL_INTERVAL_MS } from '../lib/buildStatus.js'
import { authorizationOf, jsonResponse, mockFetch, renderAt, statusBody } from '../test/helpers.jsx'

// Fake timers drive the poller; RTL's waitFor/findBy would wait on faked timers, so every
// test advances time explicitly and then asserts synchronously.
async function advance(ms = 0) {
  await act(() => vi.advanceTimersByTimeAsync(ms))
}

function succeededBody() {
  const body = statusBody({
    status: 'succeeded',
    current_step: null,
    ended_at: '2025-01-01T10:05:00.000Z',
    deployed_url: 'http://tmux-abc123-bakery.local/',
    screenshot_url: 'http://local/screens/exec-1.png',
    e2e: { passed: 7, failed: 0, ok: true },
  })
  body.steps = body.steps.map((step) => ({ ...step, status: 'succeeded', duration_seconds: 2, attempts: 1 }))
  body.steps[5] = { ...body.steps[5], attempts: 3, duration_seconds: 75 }
  return body
}

/** Answers the status URL with `bodies` in turn, repeating the last one. */
function mockStatusSequence(...answers) {
  let call = 0
  return mockFetch((url) => {
    expect(url).toBe('/api/status/exec-1')
    const answer = answers[Math.min(call++, answers.length - 1)]
    if (answer instanceof Error) throw answer
    return typeof answer === 'number' ? jsonResponse(answer, { error: 'X', message: `status ${answer}` }) : jsonResponse(200, answer)
  })
}

describe('StatusPage', () => {
  beforeEach(() => {
    vi.useFakeTimers()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('renders all nine steps with their status from the API', async () => {
    mockStatusSequence(statusBody())
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
    expect(screen.getByRole('status')).toHaveTextContent('Building your site…')
    expect(screen.getByRole('status')).toHaveTextContent('Now: Create plan')
    expect(screen.queryByRole('link', { name: /http/ })).not.toBeInTheDocument()
  })

  it('shows the live URL, screenshot, E2E result and retries once the build succeeded', async () => {
    mockStatusSequence(succeededBody())
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
    expect(screen.getByText(/E2E tests: passed \(7 passed, 0 failed\)/)).toBeInTheDocument()
    const deploy = screen.getByTestId('step-deploy')
    expect(deploy).toHaveTextContent('retried 2×')
    expect(deploy).toHaveTextContent('1 m 15 s')
    expect(screen.getByRole('status')).toHaveTextContent('Your site is live.')
  })

  it('polls every 1.5 s and stops on a terminal status', async () => {
    const fetchMock = mockStatusSequence(statusBody(), statusBody(), succeededBody())
    renderAt('/status/exec-1')
    await advance()
    expect(fetchMock).toHaveBeenCalledTimes(1)

    await advance(POLL_INTERVAL_MS - 1)
    expect(fetchMock).toHaveBeenCalledTimes(1)
    await advance(1)
    expect(fetchMock).toHaveBeenCalledTimes(2)
    await advance(POLL_INTERVAL_MS)
    expect(fetchMock).toHaveBeenCalledTimes(3)
    expect(screen.getByRole('status')).toHaveTextContent('Your site is live.')

    await advance(POLL_INTERVAL_MS * 10)
    expect(fetchMock).toHaveBeenCalledTimes(3)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('stops polling when the page unmounts', async () => {
    const fetchMock = mockStatusSequence(statusBody())
    const { unmount } = renderAt('/status/exec-1')
    await advance()
    expect(fetchMock).toHaveBeenCalledTimes(1)

    unmount()
    await advance(POLL_INTERVAL_MS * 5)
    expect(fetchMock).toHaveBeenCalledTimes(1)
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
    const fetchMock = mockStatusSequence(body)
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
    expect(fetchMock).toHaveBeenCalledTimes(1)
  })

  it('says there is no such build on 404 and stops polling', async () => {
    const fetchMock = mockStatusSequence(404)
    renderAt('/status/exec-1')
    await advance()

    expect(screen.getByRole('heading', { name: 'No build with this id' })).toBeInTheDocument()
    await advance(POLL_INTERVAL_MS * 3)
    expect(fetchMock).toHaveBeenCalledTimes(1)
  })

  it('asks with the stored client token on every poll', async () => {
    storeClientToken('signed.client.token')
    const fetchMock = mockStatusSequence(statusBody())
    renderAt('/status/exec-1')
    await advance()
    await advance(POLL_INTERVAL_MS)

    expect(fetchMock).toHaveBeenCalledTimes(2)
    expect(fetchMock.mock.calls.map(authorizationOf)).toEqual([
      'Bearer signed.client.token',
      'Bearer signed.client.token',
    ])
  })

  it('asks for the sign-in link on 401 without a token and stops polling', async () => {
    const fetchMock = mockStatusSequence(401)
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
    const fetchMock = mockStatusSequence(statusBody(), 401)
    renderAt('/status/exec-1')
    await advance()
    expect(screen.getByRole('heading', { name: 'Build status' })).toBeInTheDocument()

    await advance(POLL_INTERVAL_MS)
    expect(screen.getByRole('heading', { name: 'Your sign-in link has expired' })).toBeInTheDocument()
    await advance(POLL_INTERVAL_MS * 3)
    expect(fetchMock).toHaveBeenCalledTimes(2)
  })

  it('says the build belongs to another account on 403 and stops polling', async () => {
    storeClientToken('someone.elses.token')
    const fetchMock = mockStatusSequence(403)
    renderAt('/status/exec-1')
    await advance()

    expect(screen.getByRole('heading', { name: 'This build belongs to another account' })).toBeInTheDocument()
    expect(screen.queryByRole('status')).not.toBeInTheDocument()
    await advance(POLL_INTERVAL_MS * 3)
    expect(fetchMock).toHaveBeenCalledTimes(1)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('keeps polling through network and server errors and recovers', async () => {
    const fetchMock = mockStatusSequence(new TypeError('Failed to fetch'), 503, statusBody())
    renderAt('/status/exec-1')
    await advance()
    expect(screen.getByRole('alert')).toHaveTextContent(/Retrying/)

    await advance(POLL_INTERVAL_MS)
    expect(screen.getByRole('alert')).toHaveTextContent(/Retrying/)

    await advance(POLL_INTERVAL_MS)
    expect(fetchMock).toHaveBeenCalledTimes(3)
    expect(screen.queryByRole('alert')).not.toBeInTheDocument()
    expect(screen.getByTestId('step-create_plan')).toHaveAttribute('data-status', 'running')
  })

  it('lists the newest 20 activity lines first', async () => {
    const activity = Array.from({ length: 25 }, (_, i) => ({
      at: `2025-01-01T10:00:${String(i).padStart(2, '0')}.000Z`,
      type: 'progress',
      step: 'create_plan',
      message: `line ${i}`,
    }))
    mockStatusSequence(statusBody({ activity }))
    renderAt('/status/exec-1')
    await advance()

    const lines = within(screen.getByRole('list', { name: 'Latest activity' })).getAllByRole('listitem')
    expect(lines).toHaveLength(20)
    expect(lines[0]).toHaveTextContent('line 24')
    expect(lines[0]).toHaveTextContent('[Create plan]')
    expect(lines[19]).toHaveTextContent('line 5')
  })
})
