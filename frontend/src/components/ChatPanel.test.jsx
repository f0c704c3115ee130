import { render, screen } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it, vi } from 'vitest'

import ChatPanel from './ChatPanel.jsx'

function chat(overrides = {}) {
  return { turns: [], loading: false, loadError: null, sending: false, sendError: null, send: vi.fn(async () => true), ...overrides }
}

describe('ChatPanel', () => {
  it('sends the trimmed text and clears the box; Shift+Enter adds a line', async () => {
    const state = chat()
    const user = userEvent.setup()
    render(<ChatPanel chat={state} />)
    const box = screen.getByLabelText('Message to the AI')
    await user.type(box, '  Add a FAQ{Shift>}{Enter}{/Shift}please  ')
    expect(state.send).not.toHaveBeenCalled()
    await user.click(screen.getByRole('button', { name: 'Send' }))
    expect(state.send).toHaveBeenCalledWith('Add a FAQ\nplease')
    expect(box).toHaveValue('')
  })

  it('refuses an empty or too long message', async () => {
    const state = chat()
    const user = userEvent.setup()
    render(<ChatPanel chat={state} />)
    expect(screen.getByRole('button', { name: 'Send' })).toBeDisabled()
    await user.click(screen.getByLabelText('Message to the AI'))
    await user.paste('x'.repeat(4001))
    expect(screen.getByRole('button', { name: 'Send' })).toBeDisabled()
    expect(screen.getByText('Please keep it under 4000 characters (4001).')).toBeInTheDocument()
  })

  it('shows queued and failed questions and a sending state', () => {
    render(
      <ChatPanel
        chat={chat({
          sending: true,
          turns: [
            { message_id: 'm1', role: 'user', text: 'One', status: 'failed', error: 'the session was busy', at: 't1' },
            { message_id: 'm2', role: 'user', text: 'Two', status: 'queued', at: 't2' },
          ],
        })}
      />,
    )
    expect(screen.getByText(/Not answered: the session was busy/)).toBeInTheDocument()
    expect(screen.getByText(/Queued — the AI will answer shortly/)).toBeInTheDocument()
    expect(screen.getByRole('button', { name: 'Sending…' })).toBeDisabled()
  })
})
