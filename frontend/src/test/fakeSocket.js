// A WebSocket stand-in for the realtime client's tests: records what is sent, and lets the
// test open, deliver frames and close like a server would.

export class FakeWebSocket {
  static instances = []

  static reset() {
    FakeWebSocket.instances = []
  }

  static latest() {
    return FakeWebSocket.instances[FakeWebSocket.instances.length - 1]
  }

  constructor(url) {
    this.url = url
    this.sent = []
    this.closed = false
    this.onopen = null
    this.onmessage = null
    this.onclose = null
    this.onerror = null
    FakeWebSocket.instances.push(this)
  }

  send(data) {
    if (this.closed) throw new Error('socket is closed')
    this.sent.push(JSON.parse(data))
  }

  close() {
    this.closed = true
  }

  // ------------------------------------------------------------------- the server's side

  open() {
    this.onopen?.({})
  }

  receive(event) {
    this.onmessage?.({ data: typeof event === 'string' ? event : JSON.stringify(event) })
  }

  drop() {
    this.closed = true
    this.onerror?.({})
    this.onclose?.({ code: 1006 })
  }
}
