import { describe, expect, it } from 'vitest'

import { formatDuration, isTerminal, latestActivity } from './buildStatus.js'
import { PIPELINE_STEPS, timelineSteps } from './pipeline.js'

describe('isTerminal', () => {
  it.each([
    ['succeeded', true],
    ['failed', true],
    ['running', false],
    [undefined, false],
  ])('%s -> %s', (status, expected) => {
    expect(isTerminal(status)).toBe(expected)
  })
})

describe('formatDuration', () => {
  it.each([
    [null, ''],
    [0.84, '0.8 s'],
    [12.4, '12 s'],
    [185, '3 m 05 s'],
  ])('%s -> %j', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text)
  })
})

describe('latestActivity', () => {
  it('orders newest first and keeps arrival order for equal timestamps', () => {
    const lines = [
      { at: '2025-01-01T10:00:01Z', message: 'a' },
      { at: '2025-01-01T10:00:02Z', message: 'b' },
      { at: '2025-01-01T10:00:02Z', message: 'c' },
    ]
    expect(latestActivity(lines).map((l) => l.message)).toEqual(['c', 'b', 'a'])
    expect(latestActivity(lines, 1).map((l) => l.message)).toEqual(['c'])
    expect(latestActivity(null)).toEqual([])
  })
})

describe('timelineSteps', () => {
  it('fills in steps the API has not reported, in pipeline order', () => {
    const steps = timelineSteps([{ name: 'deploy', number: 6, title: 'Deploy', status: 'running', attempts: 1 }])
    expect(steps.map((s) => s.name)).toEqual(PIPELINE_STEPS.map((s) => s.name))
    expect(steps[5].status).toBe('running')
    expect(steps[0]).toMatchObject({ number: 1, title: 'Create user', status: 'pending' })
  })
})
