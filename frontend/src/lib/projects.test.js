import { describe, expect, it } from 'vitest'

import { orderProjects, statusLabel } from './projects.js'

describe('orderProjects', () => {
  it('lists active projects before archived ones, newest first', () => {
    const projects = [
      { session_id: 'old', created_at: '2025-01-01T00:00:00Z', archived: false },
      { session_id: 'archived-new', created_at: '2025-03-01T00:00:00Z', archived: true },
      { session_id: 'new', created_at: '2025-02-01T00:00:00Z', archived: false },
    ]
    expect(orderProjects(projects).map((p) => p.session_id)).toEqual(['new', 'old', 'archived-new'])
    expect(projects[0].session_id).toBe('old')
    expect(orderProjects(undefined)).toEqual([])
  })
})

describe('statusLabel', () => {
  it.each([
    ['active', 'Active'],
    ['in_progress', 'In progress'],
    ['', 'Unknown'],
    [null, 'Unknown'],
  ])('%j -> %j', (status, label) => {
    expect(statusLabel(status)).toBe(label)
  })
})
