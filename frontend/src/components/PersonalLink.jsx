import { useState } from 'react'

import Notice from './Notice.jsx'

/**
 * The signed link to the person's projects, shown right after onboarding: the browser keeps
 * the token, but another device (or a cleared browser) needs the link.
 */
export default function PersonalLink({ url }) {
  const [copied, setCopied] = useState(false)
  if (!url) return null
  const canCopy = typeof navigator !== 'undefined' && Boolean(navigator.clipboard?.writeText)

  async function copy() {
    try {
      await navigator.clipboard.writeText(url)
      setCopied(true)
    } catch {
      setCopied(false)
    }
  }

  return (
    <Notice>
      <p>
        Keep{' '}
        <a href={url} className="font-medium text-sky-700 underline hover:text-sky-900">
          your personal link
        </a>{' '}
        (bookmark it): it opens your projects from any device. Do not share it; it works like a password.
      </p>
      {canCopy && (
        <button type="button" onClick={copy} className="mt-2 text-sm font-medium text-sky-700 underline">
          {copied ? 'Copied' : 'Copy link'}
        </button>
      )}
    </Notice>
  )
}
