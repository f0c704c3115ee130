import { Link, useLocation } from 'react-router-dom'

import { hasClientToken } from '../api/credentials.js'

const NAV_LINK =
  'rounded text-sm font-medium text-slate-200 hover:text-white focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-400'

export default function Layout({ children }) {
  // Re-read on every navigation: the token appears when onboarding or a client link stores it.
  useLocation()
  const signedIn = hasClientToken()
  return (
    <div className="min-h-screen bg-slate-50 text-slate-900">
      <header className="border-b border-slate-200 bg-slate-900">
        <div className="mx-auto flex max-w-5xl items-center justify-between gap-4 px-4 py-3">
          <Link
            to="/"
            className="font-mono text-lg font-semibold tracking-tight text-white focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-400"
          >
            tmux-builder
          </Link>
          {signedIn && (
            <nav aria-label="Account">
              <Link to="/client" className={NAV_LINK}>
                My projects
              </Link>
            </nav>
          )}
        </div>
      </header>
      <main className="mx-auto max-w-5xl px-4 py-6 sm:py-10">{children}</main>
    </div>
  )
}
