// Answers of the admin API for the admin pages' tests, shaped as the control plane sends them.
import { jsonResponse } from '../../test/helpers.jsx'

export const ADMIN_TOKEN = 'admin-token-for-tests'

export function session(overrides = {}) {
  return {
    session_id: 'sess_20260204T070000_abc123',
    user_id: 'a'.repeat(32),
    client_name: 'Ada Studio',
    name: 'portfolio-abc123',
    status: 'live',
    archived: false,
    created_at: '2026-02-04T07:00:00.000Z',
    deployed_url: 'http://127.0.0.1:9000/',
    latest_execution_id: 'aaaaaaaaaaaa_sess_20260204T070000_abc123',
    email: 'ada@example.com',
    ...overrides,
  }
}

export function detail(overrides = {}) {
  return {
    ...session(),
    requirements: 'A portfolio for Ada',
    executions: [{ execution_id: session().latest_execution_id, mode: 'build', status: 'succeeded' }],
    resources: [],
    ...overrides,
  }
}

export function history() {
  const payload = (value) => ({ value, truncated: false, chars: 10 })
  return {
    execution_id: session().latest_execution_id,
    status: 'SUCCEEDED',
    started_at: '2026-02-04T07:00:00.000Z',
    stopped_at: '2026-02-04T07:01:00.000Z',
    states: [
      {
        name: 'create_user',
        type: 'Task',
        status: 'succeeded',
        entered_at: '2026-02-04T07:00:00.100Z',
        exited_at: '2026-02-04T07:00:00.300Z',
        duration_seconds: 0.2,
        input: payload({ user_id: 'a'.repeat(32) }),
        output: payload({ identity_role_arn: 'arn:aws:iam::1:role/tmux-user-aaaa' }),
        resource: 'lambda:invoke',
        parameters: payload({ FunctionName: 'create-user' }),
        attempts: 1,
        failures: [],
        events: [{ id: 4, type: 'TaskStateEntered', at: '2026-02-04T07:00:00.100Z' }],
      },
      {
        name: 'health_check',
        type: 'Task',
        status: 'succeeded',
        entered_at: '2026-02-04T07:00:30.000Z',
        exited_at: '2026-02-04T07:00:40.000Z',
        duration_seconds: 10,
        input: payload({}),
        output: payload({ ok: true }),
        resource: 'lambda:invoke',
        parameters: payload({ task_token: '[redacted]' }),
        attempts: 2,
        failures: [{ at: '2026-02-04T07:00:31.000Z', error: 'SiteNotReady', cause: '503 from the CDN', retried: true }],
        events: [],
      },
    ],
    next_cursor: null,
  }
}

export function statusBody() {
  return {
    execution_id: session().latest_execution_id,
    user_id: 'a'.repeat(32),
    session_id: session().session_id,
    status: 'succeeded',
    steps: [],
    activity: [
      { at: '2026-02-04T07:00:50.000Z', type: 'status', step: 'deploy', message: '{"s3_bucket": "tmux-aaaa-portfolio"}' },
      { at: '2026-02-04T07:00:40.000Z', type: 'status', step: 'deploy', message: 'Uploading 3 files' },
    ],
  }
}

/**
 * A fetch stand-in routing `METHOD /path` (query string ignored unless the key has one) to
 * answers: a body (200), `[status, body]`, or a function of (url, init).
 */
export function apiRoutes(routes) {
  return (url, init = {}) => {
    const method = (init.method ?? 'GET').toUpperCase()
    const path = url.split('?')[0]
    const answer = routes[`${method} ${url}`] ?? routes[`${method} ${path}`]
    if (answer === undefined) return jsonResponse(404, { error: 'NotFound', message: `no route ${method} ${path}` })
    const value = typeof answer === 'function' ? answer(url, init) : answer
    if (Array.isArray(value)) return jsonResponse(value[0], value[1])
    return jsonResponse(200, value)
  }
}
