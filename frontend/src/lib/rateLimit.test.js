import { describe, expect, it } from 'vitest'

import { formatWait, rateLimitMessage } from './rateLimit.js'

describe('formatWait', () => {
  it.each([
    [0, '1 second'],
    [1, '1 second'],
    [45, '45 seconds'],
    [60, '1 minute'],
    [61, '2 minutes'],
    [7200, '2 hours'],
  ])('%s -> %j', (seconds, text) => {
    expect(formatWait(seconds)).toBe(text)
  })
})

describe('rateLimitMessage', () => {
  it('adds when to try again', () => {
    expect(rateLimitMessage({ message: 'Too many requests', retryAfterSeconds: 90 })).toBe(
      'Too many requests. Please try again in 2 minutes.',
    )
    expect(rateLimitMessage({ message: 'Slow down!', retryAfterSeconds: null })).toBe(
      'Slow down! Please try again later.',
    )
  })
})
