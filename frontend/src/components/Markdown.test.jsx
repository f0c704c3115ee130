import { render, screen } from '@testing-library/react'
import { describe, expect, it } from 'vitest'

import Markdown from './Markdown.jsx'

describe('Markdown', () => {
  it('renders markdown, opening links in a new tab', () => {
    render(<Markdown>{'See [the site](https://site.test/) and `code`'}</Markdown>)
    const link = screen.getByRole('link', { name: 'the site' })
    expect(link).toHaveAttribute('href', 'https://site.test/')
    expect(link).toHaveAttribute('target', '_blank')
    expect(link).toHaveAttribute('rel', 'noopener noreferrer')
    expect(screen.getByText('code').tagName).toBe('CODE')
  })

  it('never renders raw HTML, unsafe links or remote images', () => {
    const { container } = render(
      <Markdown>
        {'<script>alert(1)</script><b onclick="x()">bold?</b>\n\n[click](javascript:alert(1)) ![logo](https://tracker.test/p.png)'}
      </Markdown>,
    )
    expect(container.querySelector('script, b, img')).toBeNull()
    expect(screen.getByText('click').getAttribute('href') ?? '').not.toMatch(/javascript/i)
    expect(container).toHaveTextContent('logo')
  })
})
