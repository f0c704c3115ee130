import { describe, expect, it } from 'vitest'

import { hasPendingTurn, mergeTurns, queuedTurn } from './chat.js'

const question = { message_id: 'msg_1', role: 'user', text: 'Hi', status: 'queued', at: '2025-01-01T10:00:00.000Z' }
const answer = {
  message_id: 'msg_1-answer',
  role: 'assistant',
  text: 'Hello',
  status: 'answered',
  at: '2025-01-01T10:00:02.000Z',
  in_reply_to: 'msg_1',
}

describe('mergeTurns', () => {
  it('orders oldest first and replaces turns by id', () => {
    const merged = mergeTurns([answer], [question, { ...question, text: 'Hi!' }])
    expect(merged.map((t) => t.message_id)).toEqual(['msg_1', 'msg_1-answer'])
    expect(merged[0].text).toBe('Hi!')
  })

  it('marks a question answered when its answer arrives', () => {
    const merged = mergeTurns([question], [answer])
    expect(merged[0].status).toBe('answered')
    expect(hasPendingTurn([question])).toBe(true)
    expect(hasPendingTurn(merged)).toBe(false)
  })

  it('keeps a failed question failed', () => {
    const failed = { ...question, status: 'failed', error: 'the session is busy' }
    expect(mergeTurns([question], [failed])[0]).toMatchObject({ status: 'failed', error: 'the session is busy' })
    expect(hasPendingTurn([failed])).toBe(false)
  })

  it('skips turns without an id and copes with nothing', () => {
    expect(mergeTurns(undefined, [{ text: 'x' }])).toEqual([])
  })
})

describe('queuedTurn', () => {
  it('stands for the 202 answer of the send route', () => {
    expect(queuedTurn({ message_id: 'msg_2', status: 'queued', at: 't' }, 'Make it blue')).toEqual({
      message_id: 'msg_2',
      role: 'user',
      text: 'Make it blue',
      status: 'queued',
      at: 't',
      in_reply_to: null,
      error: null,
    })
  })
})
