import { act, render, screen } from '@testing-library/react'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

import { ApiError } from '../api/client.js'
import { callsTo, mockApi } from '../test/apiRoutes.js'
import { FakeWebSocket } from '../test/fakeSocket.js'
import {
  PING_INTERVAL_MS,
  RealtimeClient,
  STATUS,
  backoffDelay,
  discoverRealtime,
  parseEvent,
  socketUrl,
  useRealtime,
  useRealtimeEvents,
} from './realtime.js'

const URL_ = 'wss://rt.example.test/prod'
const flush = () => act(() => vi.advanceTimersByTimeAsync(0))

let clients = []

function client(overrides = {}) {
  const made = new RealtimeClient({
    token: 'tok.en',
    discover: vi.fn(async () => URL_),
    WebSocketImpl: FakeWebSocket,
    random: () => 1,
    ...overrides,
  })
  clients.push(made)
  return made
}

beforeEach(() => {
  vi.useFakeTimers()
  FakeWebSocket.reset()
})

afterEach(() => {
  for (const made of clients) made.close()
  clients = []
  vi.useRealTimers()
})

describe('pure helpers', () => {
  it('puts the token in the query, keeping other parameters, on a ws(s) URL', () => {
    expect(socketUrl('wss://a.test/prod', 'a b')).toBe('wss://a.test/prod?token=a+b')
    expect(socketUrl('wss://a.test/ws?x=1&token=old', 't')).toBe('wss://a.test/ws?x=1&token=t')
    expect(socketUrl('http://127.0.0.1:8080/ws', 't')).toBe('ws://127.0.0.1:8080/ws?token=t')
    expect(socketUrl('https://a.test/ws', 't')).toBe('wss://a.test/ws?token=t')
  })

  it('accepts only version-1 events of known types', () => {
    expect(parseEvent('{"v":1,"type":"step","step":"deploy"}')).toEqual({ v: 1, type: 'step', step: 'deploy' })
    expect(parseEvent('{"v":1,"type":"error","message":"no"}')).toMatchObject({ type: 'error' })
    expect(parseEvent('{"v":2,"type":"step"}')).toBeNull()
    expect(parseEvent('{"v":1,"type":"surprise"}')).toBeNull()
    expect(parseEvent('{"v":1,"type":"pong"}')).toBeNull()
    expect(parseEvent('{"type":"step"}')).toBeNull()
    expect(parseEvent('[1]')).toBeNull()
    expect(parseEvent('not json')).toBeNull()
    expect(parseEvent(new ArrayBuffer(2))).toBeNull()
  })

  it('backs off by doubling up to the cap, with jitter in the upper half', () => {
    const opts = { initialMs: 1000, maxMs: 30_000 }
    expect([0, 1, 2, 3, 4, 5, 9].map((n) => backoffDelay(n, opts, () => 1))).toEqual([
      1000, 2000, 4000, 8000, 16000, 30000, 30000,
    ])
    expect(backoffDelay(2, opts, () => 0)).toBe(2000)
  })
})

describe('discoverRealtime', () => {
  beforeEach(() => vi.useRealTimers())

  it('asks with the given token and returns the URL', async () => {
    const fetchMock = mockApi({ '/api/realtime': { url: URL_, version: 1 } })
    await expect(discoverRealtime('admin.tok')).resolves.toBe(URL_)
    expect(fetchMock.mock.calls[0][1].headers.Authorization).toBe('Bearer admin.tok')
  })

  it.each([[404], [403], [401]])('means "no realtime" on %s', async (status) => {
    mockApi({ '/api/realtime': status })
    await expect(discoverRealtime('t')).resolves.toBeNull()
  })

  it('means "no realtime" for another protocol version or no URL', async () => {
    mockApi({ '/api/realtime': [{ url: URL_, version: 2 }, { version: 1 }] })
    await expect(discoverRealtime('t')).resolves.toBeNull()
    await expect(discoverRealtime('t')).resolves.toBeNull()
  })

  it('throws on a server error so the caller tries again', async () => {
    mockApi({ '/api/realtime': 503 })
    await expect(discoverRealtime('t')).rejects.toBeInstanceOf(ApiError)
  })
})

describe('RealtimeClient', () => {
  it('connects with the token, subscribes, and passes on valid events only', async () => {
    const rt = client()
    const events = []
    const statuses = []
    rt.onEvent((e) => events.push(e))
    rt.onStatus((s) => statuses.push(s))
    rt.subscribe({ execution_id: 'exec-1' })
    rt.subscribe({ execution_id: 'exec-1' })
    rt.start()
    await flush()

    const socket = FakeWebSocket.latest()
    expect(socket.url).toBe(`${URL_}?token=tok.en`)
    socket.open()
    rt.subscribe({ session_id: 's1' })
    expect(socket.sent).toEqual([
      { action: 'subscribe', execution_id: 'exec-1' },
      { action: 'subscribe', session_id: 's1' },
    ])
    socket.receive({ v: 1, type: 'step', step: 'deploy', status: 'running' })
    socket.receive({ v: 9, type: 'step' })
    socket.receive({ v: 1, type: 'pong' })
    socket.receive('garbage')
    expect(events).toEqual([{ v: 1, type: 'step', step: 'deploy', status: 'running' }])
    expect(statuses).toEqual([STATUS.CONNECTING, STATUS.OPEN])
  })

  it('pings every five minutes while open', async () => {
    const rt = client()
    rt.start()
    await flush()
    const socket = FakeWebSocket.latest()
    socket.open()
    await act(() => vi.advanceTimersByTimeAsync(PING_INTERVAL_MS * 2))
    expect(socket.sent).toEqual([{ action: 'ping' }, { action: 'ping' }])
    rt.close()
    await act(() => vi.advanceTimersByTimeAsync(PING_INTERVAL_MS))
    expect(socket.sent).toHaveLength(2)
  })

  it('reconnects with backoff, re-subscribes and announces each (re)connect', async () => {
    const discover = vi.fn(async () => URL_)
    const rt = client({ discover })
    const connects = vi.fn()
    rt.onConnect(connects)
    rt.subscribe({ execution_id: 'exec-1' })
    rt.start()
    await flush()
    FakeWebSocket.latest().open()
    expect(connects).toHaveBeenCalledTimes(1)

    FakeWebSocket.latest().drop()
    expect(rt.status).toBe(STATUS.RECONNECTING)
    await act(() => vi.advanceTimersByTimeAsync(999))
    expect(FakeWebSocket.instances).toHaveLength(1)
    await act(() => vi.advanceTimersByTimeAsync(1))
    expect(FakeWebSocket.instances).toHaveLength(2)

    // The second attempt fails before opening: the wait doubles.
    FakeWebSocket.latest().drop()
    await act(() => vi.advanceTimersByTimeAsync(1999))
    expect(FakeWebSocket.instances).toHaveLength(2)
    await act(() => vi.advanceTimersByTimeAsync(1))
    const third = FakeWebSocket.latest()
    expect(FakeWebSocket.instances).toHaveLength(3)
    third.open()
    expect(third.sent).toEqual([{ action: 'subscribe', execution_id: 'exec-1' }])
    expect(connects).toHaveBeenCalledTimes(2)
    expect(discover).toHaveBeenCalledTimes(3)
    expect(rt.status).toBe(STATUS.OPEN)

    // An open connection resets the backoff.
    third.drop()
    await act(() => vi.advanceTimersByTimeAsync(1000))
    expect(FakeWebSocket.instances).toHaveLength(4)
  })

  it('retries discovery on a server error, and gives up (polling) on a refusal', async () => {
    const discover = vi
      .fn()
      .mockRejectedValueOnce(new ApiError(502, null))
      .mockResolvedValueOnce(null)
    const rt = client({ discover })
    rt.start()
    await flush()
    expect(rt.status).toBe(STATUS.RECONNECTING)
    await act(() => vi.advanceTimersByTimeAsync(1000))
    expect(discover).toHaveBeenCalledTimes(2)
    expect(rt.status).toBe(STATUS.UNAVAILABLE)
    expect(FakeWebSocket.instances).toHaveLength(0)
    await act(() => vi.advanceTimersByTimeAsync(60_000))
    expect(discover).toHaveBeenCalledTimes(2)
  })

  it('is unavailable without a token, and asks nothing', () => {
    const discover = vi.fn()
    const rt = client({ token: null, discover })
    rt.start()
    expect(rt.status).toBe(STATUS.UNAVAILABLE)
    expect(discover).not.toHaveBeenCalled()
  })

  it('stops for good on close: no reconnect, no events', async () => {
    const rt = client()
    const events = vi.fn()
    rt.onEvent(events)
    rt.start()
    await flush()
    const socket = FakeWebSocket.latest()
    socket.open()
    rt.close()
    expect(socket.closed).toBe(true)
    socket.receive({ v: 1, type: 'step' })
    socket.drop()
    await act(() => vi.advanceTimersByTimeAsync(60_000))
    expect(FakeWebSocket.instances).toHaveLength(1)
    expect(events).not.toHaveBeenCalled()
    expect(rt.status).toBe(STATUS.CLOSED)
  })

  it('reconnects at once when the browser comes back online', async () => {
    const rt = client()
    rt.start()
    await flush()
    FakeWebSocket.latest().drop()
    expect(FakeWebSocket.instances).toHaveLength(1)
    window.dispatchEvent(new Event('online'))
    await flush()
    expect(FakeWebSocket.instances).toHaveLength(2)
    rt.close()
  })
})

describe('useRealtime', () => {
  function Probe({ token, executionId, sessionId, onEvent }) {
    const { status, client: rt } = useRealtime(
      token,
      [{ execution_id: executionId }, sessionId && { session_id: sessionId }],
      { WebSocketImpl: FakeWebSocket },
    )
    useRealtimeEvents(rt, onEvent)
    return <p data-testid="status">{status}</p>
  }

  it('connects for a token, subscribes as ids appear, and closes on unmount', async () => {
    const fetchMock = mockApi({ '/api/realtime': { url: URL_, version: 1 } })
    const onEvent = vi.fn()
    const { rerender, unmount } = render(<Probe token="tok" executionId="exec-1" onEvent={onEvent} />)
    await flush()
    const socket = FakeWebSocket.latest()
    expect(socket.url).toBe(`${URL_}?token=tok`)
    act(() => socket.open())
    expect(screen.getByTestId('status')).toHaveTextContent('open')

    rerender(<Probe token="tok" executionId="exec-1" sessionId="s1" onEvent={onEvent} />)
    expect(socket.sent).toEqual([
      { action: 'subscribe', execution_id: 'exec-1' },
      { action: 'subscribe', session_id: 's1' },
    ])
    act(() => socket.receive({ v: 1, type: 'deployed', url: 'http://x' }))
    expect(onEvent).toHaveBeenCalledWith({ v: 1, type: 'deployed', url: 'http://x' })

    unmount()
    expect(socket.closed).toBe(true)
    expect(callsTo(fetchMock, '/api/realtime').length).toBeGreaterThanOrEqual(1)
  })

  it('is unavailable without a token', () => {
    render(<Probe token={null} executionId="exec-1" onEvent={() => {}} />)
    expect(screen.getByTestId('status')).toHaveTextContent('unavailable')
    expect(FakeWebSocket.instances).toHaveLength(0)
  })
})
