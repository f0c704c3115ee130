// The portal's WebSocket client (client and admin pages alike): discover the socket, connect
// with the caller's token, subscribe, keep the connection alive, and reconnect with backoff.
//
// Protocol (version 1):
// - `GET /api/realtime` -> `{"url", "version": 1}`; any refusal (404 when the deployment has
//   no socket) means "no realtime": the pages then poll REST.
// - connect `${url}?token=...`; send `{"action":"subscribe","execution_id"|"session_id"}`;
//   `{"action":"ping"}` every ~5 minutes (API Gateway closes idle sockets after 10).
// - events carry `"v": 1` and a `type`: step, activity, chat, deployed, screenshot, execution,
//   pong, error. Anything else is ignored.
// Events may be missed while disconnected, so listeners of `onConnect` re-fetch state over REST
// after every (re)connect.

import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react'

import { ApiError, apiRequest } from '../api/client.js'

export const PROTOCOL_VERSION = 1
export const PING_INTERVAL_MS = 5 * 60 * 1000
export const BACKOFF = { initialMs: 1000, maxMs: 30_000 }
export const EVENT_TYPES = new Set(['step', 'activity', 'chat', 'deployed', 'screenshot', 'execution', 'error'])

/**
 * Connection states: `idle` (not started), `connecting`, `open`, `reconnecting` (waiting to
 * try again), `unavailable` (this deployment or this token has no socket: poll REST) and
 * `closed` (by the page).
 */
export const STATUS = Object.freeze({
  IDLE: 'idle',
  CONNECTING: 'connecting',
  OPEN: 'open',
  RECONNECTING: 'reconnecting',
  UNAVAILABLE: 'unavailable',
  CLOSED: 'closed',
})

/** The socket URL for `token`, or null when there is none (answered 4xx, or another version). */
export async function discoverRealtime(token, { signal } = {}) {
  try {
    const answer = await apiRequest('/api/realtime', { token, signal })
    if (answer?.version !== PROTOCOL_VERSION || typeof answer?.url !== 'string' || !answer.url) return null
    return answer.url
  } catch (err) {
    // 4xx will not change by asking again; 5xx and network errors are worth another try.
    if (err instanceof ApiError && err.status < 500 && err.status !== 429) return null
    throw err
  }
}

/** `url` with the token as its `token` query parameter (kept apart from any other parameter). */
export function socketUrl(url, token) {
  const parsed = new URL(url, typeof window === 'undefined' ? 'http://localhost' : window.location.href)
  if (parsed.protocol === 'http:') parsed.protocol = 'ws:'
  if (parsed.protocol === 'https:') parsed.protocol = 'wss:'
  parsed.searchParams.set('token', token)
  return parsed.toString()
}

/** A frame's event when it is a version-1 event of a known type; null otherwise. */
export function parseEvent(data) {
  let event
  try {
    event = typeof data === 'string' ? JSON.parse(data) : null
  } catch {
    return null
  }
  if (!event || typeof event !== 'object' || Array.isArray(event)) return null
  if (event.v !== PROTOCOL_VERSION || !EVENT_TYPES.has(event.type)) return null
  return event
}

/** Milliseconds before reconnect attempt `attempt` (0-based): doubling, capped, with jitter. */
export function backoffDelay(attempt, { initialMs, maxMs } = BACKOFF, random = Math.random) {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt))
  return Math.round(ceiling / 2 + (ceiling / 2) * random())
}

function subscriptionKey(subscription) {
  if (subscription?.execution_id) return `execution_id:${subscription.execution_id}`
  if (subscription?.session_id) return `session_id:${subscription.session_id}`
  return null
}

/**
 * One realtime connection for one token.
 *
 * `subscribe()` may be called at any time: subscriptions are remembered and sent again after
 * every reconnect. Listeners: `onEvent(fn)`, `onStatus(fn)`, `onConnect(fn)` each return a
 * function that removes the listener.
 */
export class RealtimeClient {
  constructor({
    token,
    discover = discoverRealtime,
    WebSocketImpl = globalThis.WebSocket,
    backoff = BACKOFF,
    pingIntervalMs = PING_INTERVAL_MS,
    random = Math.random,
  }) {
    this.token = token
    this.status = STATUS.IDLE
    this._discover = discover
    this._WebSocket = WebSocketImpl
    this._backoff = backoff
    this._pingIntervalMs = pingIntervalMs
    this._random = random
    this._subscriptions = new Map()
    this._listeners = { event: new Set(), status: new Set(), connect: new Set() }
    this._socket = null
    this._attempt = 0
    this._retryTimer = null
    this._pingTimer = null
    this._discovery = null
    this._onOnline = () => {
      if (this.status === STATUS.RECONNECTING) this._connectNow()
    }
  }

  onEvent(fn) {
    return this._listen('event', fn)
  }

  onStatus(fn) {
    return this._listen('status', fn)
  }

  onConnect(fn) {
    return this._listen('connect', fn)
  }

  /** Connect (again, after `close()`: React may mount an effect twice). */
  start() {
    if (this.status !== STATUS.IDLE && this.status !== STATUS.CLOSED) return this
    this.status = STATUS.IDLE
    this._attempt = 0
    if (!this.token || typeof this._WebSocket !== 'function') {
      this._setStatus(STATUS.UNAVAILABLE)
      return this
    }
    globalThis.addEventListener?.('online', this._onOnline)
    this._connect()
    return this
  }

  subscribe(subscription) {
    const key = subscriptionKey(subscription)
    if (!key || this._subscriptions.has(key)) return
    const message = subscription.execution_id
      ? { action: 'subscribe', execution_id: subscription.execution_id }
      : { action: 'subscribe', session_id: subscription.session_id }
    this._subscriptions.set(key, message)
    if (this.status === STATUS.OPEN) this._send(message)
  }

  close() {
    globalThis.removeEventListener?.('online', this._onOnline)
    clearTimeout(this._retryTimer)
    this._stopPing()
    this._discovery?.abort()
    const socket = this._socket
    this._socket = null
    if (socket) {
      socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null
      try {
        socket.close(1000)
      } catch {
        // Closing a socket that never opened can throw in some browsers; it is gone either way.
      }
    }
    this._setStatus(STATUS.CLOSED)
  }

  // ------------------------------------------------------------------------------ internal

  _listen(kind, fn) {
    this._listeners[kind].add(fn)
    return () => this._listeners[kind].delete(fn)
  }

  _emit(kind, value) {
    for (const fn of [...this._listeners[kind]]) {
      try {
        fn(value)
      } catch (err) {
        // One broken listener must not starve the others of events.
        console.error('realtime listener failed', err)
      }
    }
  }

  _setStatus(status) {
    if (this.status === status) return
    this.status = status
    this._emit('status', status)
  }

  _connectNow() {
    clearTimeout(this._retryTimer)
    this._connect()
  }

  async _connect() {
    if (this.status === STATUS.CLOSED) return
    this._setStatus(this._attempt === 0 ? STATUS.CONNECTING : STATUS.RECONNECTING)
    // The URL is asked for on every attempt: an expired token then ends in polling (and the
    // page's REST calls say the link expired) instead of reconnecting forever.
    const discovery = new AbortController()
    this._discovery = discovery
    let url
    try {
      url = await this._discover(this.token, { signal: discovery.signal })
    } catch {
      if (discovery.signal.aborted || this.status === STATUS.CLOSED) return
      this._scheduleRetry()
      return
    }
    if (discovery.signal.aborted || this.status === STATUS.CLOSED) return
    if (!url) {
      this._setStatus(STATUS.UNAVAILABLE)
      return
    }
    this._open(url)
  }

  _open(url) {
    let socket
    try {
      socket = new this._WebSocket(socketUrl(url, this.token))
    } catch {
      this._scheduleRetry()
      return
    }
    this._socket = socket
    socket.onopen = () => {
      this._attempt = 0
      this._setStatus(STATUS.OPEN)
      for (const message of this._subscriptions.values()) this._send(message)
      this._startPing()
      this._emit('connect')
    }
    socket.onmessage = (frame) => {
      const event = parseEvent(frame.data)
      if (event) this._emit('event', event)
    }
    socket.onclose = () => {
      if (this._socket !== socket) return
      this._socket = null
      this._stopPing()
      this._scheduleRetry()
    }
    // An error is always followed by close, which does the work.
    socket.onerror = () => {}
  }

  _scheduleRetry() {
    if (this.status === STATUS.CLOSED) return
    this._setStatus(STATUS.RECONNECTING)
    const delay = backoffDelay(this._attempt, this._backoff, this._random)
    this._attempt += 1
    clearTimeout(this._retryTimer)
    this._retryTimer = setTimeout(() => this._connect(), delay)
  }

  _send(message) {
    try {
      this._socket?.send(JSON.stringify(message))
    } catch {
      // The socket is closing; onclose reconnects and sends the subscriptions again.
    }
  }

  _startPing() {
    this._stopPing()
    this._pingTimer = setInterval(() => this._send({ action: 'ping' }), this._pingIntervalMs)
  }

  _stopPing() {
    clearInterval(this._pingTimer)
    this._pingTimer = null
  }
}

/**
 * A realtime connection for the life of a component: `{ status, client }`.
 *
 * `token` is the caller's credential (the client token, or the admin's); without one there is
 * no connection and `status` is `unavailable`. `subscriptions` (`[{execution_id}]`,
 * `[{session_id}]`; falsy entries are skipped) may grow as the page learns ids.
 * `options` is passed to {@link RealtimeClient} (tests give a fake WebSocket).
 */
export function useRealtime(token, subscriptions = [], options = undefined) {
  const [clientOptions] = useState(options)
  const client = useMemo(
    () => (token ? new RealtimeClient({ ...clientOptions, token }) : null),
    [token, clientOptions],
  )
  useEffect(() => {
    if (!client) return undefined
    client.start()
    return () => client.close()
  }, [client])

  const subscribeToStatus = useCallback((notify) => (client ? client.onStatus(notify) : () => {}), [client])
  const status = useSyncExternalStore(subscribeToStatus, () => (client ? client.status : STATUS.UNAVAILABLE))

  const keys = subscriptions.map(subscriptionKey).filter(Boolean).join(' ')
  useEffect(() => {
    if (!client || !keys) return
    for (const key of keys.split(' ')) {
      const [name, value] = key.split(/:(.*)/s)
      client.subscribe({ [name]: value })
    }
  }, [client, keys])

  return { status, client }
}

/** Call `handler(event)` for every event of `client`; the latest handler is always used. */
export function useRealtimeEvents(client, handler) {
  const latest = useRef(handler)
  useEffect(() => {
    latest.current = handler
  })
  useEffect(() => {
    if (!client) return undefined
    return client.onEvent((event) => latest.current(event))
  }, [client])
}

/** Call `handler()` after every (re)connect of `client`: re-fetch what may have been missed. */
export function useRealtimeConnect(client, handler) {
  const latest = useRef(handler)
  useEffect(() => {
    latest.current = handler
  })
  useEffect(() => {
    if (!client) return undefined
    return client.onConnect(() => latest.current())
  }, [client])
}
