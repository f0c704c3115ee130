import { render } from '@testing-library/react'
import { BrowserRouter, MemoryRouter, useLocation } from 'react-router-dom'
import { vi } from 'vitest'

import App, { AppRoutes } from '../App.jsx'

/** A fetch Response stand-in: enough of the interface for src/api/client.js. */
export function jsonResponse(status, body, headers = {}) {
  return {
    ok: status >= 200 && status < 300,
    status,
    headers: new Headers(headers),
    text: async () => (body === undefined ? '' : JSON.stringify(body)),
  }
}

/** The Authorization header a mocked fetch call was made with, or undefined. */
export function authorizationOf(call) {
  return call[1]?.headers?.Authorization
}

/** Replace global fetch with a mock; `handler(url, init)` returns a response or throws. */
export function mockFetch(handler) {
  const fetchMock = vi.fn(async (url, init) => handler(String(url), init))
  vi.stubGlobal('fetch', fetchMock)
  return fetchMock
}

function LocationProbe() {
  const location = useLocation()
  return (
    <>
      <div data-testid="location">{location.pathname}</div>
      <div data-testid="location-hash">{location.hash}</div>
    </>
  )
}

/**
 * Render the whole app in a real BrowserRouter at `url`, so `window.location` and
 * `window.history` show what the address bar would. Reset with `window.history.replaceState`.
 */
export function renderInBrowserAt(url) {
  window.history.replaceState(null, '', url)
  return render(
    <BrowserRouter>
      <App />
    </BrowserRouter>,
  )
}

/** Render the app's routes at `route`, with the current path in `data-testid="location"`. */
export function renderAt(route) {
  return render(
    <MemoryRouter initialEntries={[route]}>
      <AppRoutes />
      <LocationProbe />
    </MemoryRouter>,
  )
}

export function statusBody(overrides = {}) {
  const names = [
    ['create_user', 'Create user'],
    ['create_session', 'Create session'],
    ['gather_requirements', 'Gather requirements'],
    ['create_plan', 'Create plan'],
    ['generate_code', 'Generate code'],
    ['deploy', 'Deploy'],
    ['health_check', 'Health check'],
    ['screenshot', 'Screenshot'],
    ['e2e_tests', 'E2E tests'],
  ]
  return {
    execution_id: 'exec-1',
    user_id: 'u1',
    session_id: 's1',
    status: 'running',
    current_step: 'create_plan',
    started_at: '2025-01-01T10:00:00.000Z',
    ended_at: null,
    steps: names.map(([name, title], i) => ({
      name,
      number: i + 1,
      title,
      status: i < 3 ? 'succeeded' : i === 3 ? 'running' : 'pending',
      started_at: i <= 3 ? '2025-01-01T10:00:00.000Z' : null,
      ended_at: i < 3 ? '2025-01-01T10:00:01.000Z' : null,
      duration_seconds: i < 3 ? 1.2 : null,
      attempts: i <= 3 ? 1 : 0,
      error: null,
    })),
    deployed_url: null,
    screenshot_url: null,
    e2e: null,
    error: null,
    activity: [],
    ...overrides,
  }
}
