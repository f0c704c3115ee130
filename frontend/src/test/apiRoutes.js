import { jsonResponse, mockFetch } from './helpers.jsx'

function respond(answer, url, init) {
  if (typeof answer === 'function') return respond(answer(url, init), url, init)
  if (answer instanceof Error) throw answer
  if (typeof answer === 'number') return jsonResponse(answer, { error: 'X', message: `status ${answer}` })
  if (answer && typeof answer.then === 'function') return answer
  if (answer && typeof answer.text === 'function' && 'ok' in answer) return answer
  return jsonResponse(200, answer)
}

/**
 * Replace fetch with a small router: `routes` maps `"/path"` or `"METHOD /path"` (the full
 * URL, query included) to an answer: a body (200), a status number, an Error to throw, a
 * response from `jsonResponse`, a promise of one, a function `(url, init)` returning one of
 * those, or an array answered in turn (the last one repeats). Anything else answers 404. Returns the fetch mock.
 */
export function mockApi(routes) {
  const turns = new Map()
  return mockFetch((url, init) => {
    const method = init?.method ?? 'GET'
    const key = `${method} ${url}` in routes ? `${method} ${url}` : url in routes ? url : null
    if (key === null) return jsonResponse(404, { error: 'NotFound', message: `no route ${method} ${url}` })
    const answer = routes[key]
    if (!Array.isArray(answer)) return respond(answer, url, init)
    const turn = turns.get(key) ?? 0
    turns.set(key, turn + 1)
    return respond(answer[Math.min(turn, answer.length - 1)], url, init)
  })
}

/** The calls of a fetch mock to `url` (and `method`, when given). */
export function callsTo(fetchMock, url, method = undefined) {
  return fetchMock.mock.calls.filter(
    ([callUrl, init]) => callUrl === url && (method === undefined || (init?.method ?? 'GET') === method),
  )
}
