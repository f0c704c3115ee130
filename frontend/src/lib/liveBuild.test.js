import { describe, expect, it } from 'vitest'

import { statusBody } from '../test/helpers.jsx'
import { applyBuildEvent, needsRefresh } from './liveBuild.js'

const step = (fields) => ({ v: 1, type: 'step', execution_id: 'exec-1', session_id: 's1', ...fields })

describe('applyBuildEvent', () => {
  it('turns a step green with its duration, and moves the current step', () => {
    const before = statusBody()
    const after = applyBuildEvent(
      before,
      step({
        step: 'create_plan',
        status: 'succeeded',
        attempt: 0,
        started_at: '2025-01-01T10:00:00.000Z',
        ended_at: '2025-01-01T10:00:04.500Z',
      }),
    )
    const plan = after.steps.find((s) => s.name === 'create_plan')
    expect(plan).toMatchObject({ status: 'succeeded', duration_seconds: 4.5, attempts: 1, error: null })
    expect(before.steps[3].status).toBe('running')

    const next = applyBuildEvent(after, step({ step: 'generate_code', status: 'running', attempt: 0, started_at: 'x' }))
    expect(next.current_step).toBe('generate_code')
    expect(next.steps.find((s) => s.name === 'generate_code')).toMatchObject({ status: 'running', ended_at: null })
  })

  it('counts a retry from the attempt number (0-based) and keeps the failure', () => {
    const failed = applyBuildEvent(
      statusBody(),
      step({ step: 'create_plan', status: 'failed', attempt: 2, error: 'Timeout', cause: 'no answer' }),
    )
    expect(failed.steps[3]).toMatchObject({ status: 'failed', attempts: 3, error: { error: 'Timeout', cause: 'no answer' } })
  })

  it('adds activity newest first, once', () => {
    const event = { v: 1, type: 'activity', execution_id: 'exec-1', at: 't1', activity_type: 'progress', message: '75', step: 'deploy' }
    const once = applyBuildEvent(statusBody(), event)
    const twice = applyBuildEvent(once, event)
    expect(once.activity).toEqual([{ at: 't1', type: 'progress', step: 'deploy', message: '75' }])
    expect(twice).toBe(once)
  })

  it('takes the deployed URL and the end of the execution', () => {
    const deployed = applyBuildEvent(statusBody(), { v: 1, type: 'deployed', url: 'http://site.test' })
    expect(deployed.deployed_url).toBe('http://site.test')
    const ended = applyBuildEvent(deployed, {
      v: 1,
      type: 'execution',
      execution_id: 'exec-1',
      status: 'failed',
      failed_step: 'health_check',
      error: 'States.Timeout',
      cause: 'the site did not answer',
    })
    expect(ended).toMatchObject({
      status: 'failed',
      current_step: null,
      error: { step: 'health_check', error: 'States.Timeout', cause: 'the site did not answer' },
    })
    const live = applyBuildEvent(statusBody(), { v: 1, type: 'execution', status: 'succeeded', deployed_url: 'http://s.test' })
    expect(live).toMatchObject({ status: 'succeeded', deployed_url: 'http://s.test', error: null })
    expect(applyBuildEvent(deployed, { v: 1, type: 'execution', status: 'paused' })).toBe(deployed)
  })

  it('takes the screenshot links', () => {
    const links = { desktop_url: 'http://a/d.png', mobile_url: 'http://a/m.png' }
    const after = applyBuildEvent(statusBody(), { v: 1, type: 'screenshot', keys: {}, screenshots: links })
    expect(after).toMatchObject({ screenshot_url: 'http://a/d.png', screenshots: links })
    const data = statusBody()
    expect(applyBuildEvent(data, { v: 1, type: 'screenshot', keys: {} })).toBe(data)
  })

  it('ignores events of another execution, unknown steps and unrelated types', () => {
    const data = statusBody()
    expect(applyBuildEvent(data, step({ execution_id: 'other', step: 'deploy', status: 'running' }))).toBe(data)
    expect(applyBuildEvent(data, step({ step: 'mystery', status: 'running' }))).toBe(data)
    expect(applyBuildEvent(data, { v: 1, type: 'chat', turn: {} })).toBe(data)
    expect(applyBuildEvent(null, step({ step: 'deploy' }))).toBeNull()
  })
})

describe('needsRefresh', () => {
  it.each([
    ['step', true],
    ['screenshot', true],
    ['execution', true],
    ['deployed', true],
    ['activity', false],
    ['chat', false],
  ])('%s -> %s', (type, expected) => {
    expect(needsRefresh({ type })).toBe(expected)
  })
})
