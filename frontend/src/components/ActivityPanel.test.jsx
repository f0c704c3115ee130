import { render, screen, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'

import ActivityPanel from './ActivityPanel.jsx'

const ACTIVITY = [
  { at: '2025-01-01T10:00:01.000Z', type: 'status', step: 'deploy', message: 'creating s3 bucket' },
  { at: '2025-01-01T10:00:02.000Z', type: 'status', step: 'deploy', message: '{"s3_bucket":"tmux-abc-site","region":"us-east-1"}' },
  { at: '2025-01-01T10:00:03.000Z', type: 'progress', step: 'deploy', message: '75' },
  { at: '2025-01-01T10:00:04.000Z', type: 'summary', step: 'generate_code', message: 'Wrote **index.html**' },
]

describe('ActivityPanel', () => {
  it('shows people readable lines, newest first, with a progress bar and markdown summaries', () => {
    render(<ActivityPanel activity={ACTIVITY} />)
    const lines = within(screen.getByRole('list', { name: 'Latest activity' })).getAllByRole('listitem')
    expect(lines).toHaveLength(3)
    expect(lines[0]).toHaveTextContent('[Generate code] Wrote index.html')
    expect(within(lines[0]).getByText('index.html').tagName).toBe('STRONG')
    expect(within(lines[1]).getByRole('progressbar')).toHaveAttribute('aria-valuenow', '75')
    expect(lines[1]).toHaveTextContent('75%')
    expect(lines[2]).toHaveTextContent('[Deploy] Creating storage bucket...')
    expect(screen.queryByText(/s3_bucket/)).not.toBeInTheDocument()
    expect(screen.queryByLabelText('Show raw messages')).not.toBeInTheDocument()
  })

  it('lets an admin switch to the raw messages and back', async () => {
    const user = userEvent.setup()
    render(<ActivityPanel activity={ACTIVITY} isAdmin />)
    await user.click(screen.getByLabelText('Show raw messages'))
    const raw = screen.getByRole('list', { name: 'Raw activity' })
    expect(within(raw).getAllByRole('listitem')).toHaveLength(4)
    expect(raw).toHaveTextContent('{"s3_bucket":"tmux-abc-site","region":"us-east-1"}')
    expect(raw).toHaveTextContent('creating s3 bucket')
    await user.click(screen.getByLabelText('Show raw messages'))
    expect(screen.getByRole('list', { name: 'Latest activity' })).not.toHaveTextContent('s3_bucket')
  })

  it('says when there is nothing to read yet', () => {
    render(<ActivityPanel activity={[{ at: 't', type: 'ack', message: 'ok' }]} />)
    expect(screen.getByText('No activity yet.')).toBeInTheDocument()
  })
})
