import { NavLink, Outlet, useNavigate } from 'react-router-dom'

import { clearAdminToken } from '../../api/admin.js'

const LINK = ({ isActive }) =>
  `rounded px-2 py-1 text-sm font-medium ${isActive ? 'bg-slate-700 text-white' : 'text-slate-200 hover:text-white'}`

/** The admin pages' frame: wide (split views need room), with the admin's navigation. */
export default function AdminLayout() {
  const navigate = useNavigate()
  function signOut() {
    clearAdminToken()
    navigate('/admin/login', { replace: true })
  }
  return (
    <div className="min-h-screen bg-slate-50 text-slate-900">
      <header className="border-b border-slate-200 bg-slate-900">
        <div className="mx-auto flex max-w-7xl flex-wrap items-center justify-between gap-3 px-4 py-3">
          <span className="font-mono text-lg font-semibold tracking-tight text-white">tmux-builder admin</span>
          <nav aria-label="Admin" className="flex items-center gap-2">
            <NavLink to="/admin/sessions" end className={LINK}>
              Sessions
            </NavLink>
            <NavLink to="/admin/sessions/new" className={LINK}>
              New session
            </NavLink>
            <NavLink to="/admin/requests" className={LINK}>
              Requests
            </NavLink>
            <button
              type="button"
              onClick={signOut}
              className="ml-2 rounded border border-slate-500 px-2 py-1 text-sm text-slate-200 hover:text-white"
            >
              Sign out
            </button>
          </nav>
        </div>
      </header>
      <main className="mx-auto max-w-7xl px-4 py-6">
        <Outlet />
      </main>
    </div>
  )
}
