import { render, screen, within } from '@testing-library/react'
import { MemoryRouter } from 'react-router-dom'
import { describe, expect, it } from 'vitest'

import BuildHistory from './BuildHistory.jsx'

const EXECUTIONS = [
  { execution_id: 'exec-2', mode: 'redeploy', status: 'running', started_at: '2025-01-02T10:00:00Z' },
  { execution_id: 'exec-1', mode: 'build', status: 'succeeded', started_at: '2025-01-01T10:00:00Z' },
]

describe('BuildHistory', () => {
  it('lists every build, newest first, linking to all but the one shown', () => {
    render(
      <MemoryRouter>
        <BuildHistory executions={EXECUTIONS} currentId="exec-2" />
      </MemoryRouter>,
    )
    const items = within(screen.getByRole('list', { name: 'Builds of this site' })).getAllByRole('listitem')
    expect(items[0]).toHaveTextContent('Redeploy · Running (shown)')
    expect(within(items[0]).queryByRole('link')).not.toBeInTheDocument()
    expect(within(items[1]).getByRole('link', { name: 'Build · Succeeded' })).toHaveAttribute('href', '/status/exec-1')
  })

  it('says nothing for a project with a single build', () => {
    const { container } = render(<BuildHistory executions={EXECUTIONS.slice(1)} currentId="exec-1" />)
    expect(container).toBeEmptyDOMElement()
  })
})
