import { useState } from 'react'
import { useNavigate, useSearchParams } from 'react-router-dom'

import { storeAdminToken, verifyAdminToken } from '../../api/admin.js'
import { ApiError } from '../../api/client.js'
import { inputClass } from '../../components/inputClass.js'

// Only admin pages are valid places to go back to (never another origin or a client page).
function safeNext(value) {
  return value && /^\/admin(\/|$|\?)/.test(value) && !value.startsWith('/admin/login') ? value : '/admin/sessions'
}

function refusal(err) {
  if (err instanceof ApiError && err.status === 401) return 'That admin token is not valid.'
  if (err instanceof ApiError && err.status === 403) return 'That is a client link token, not the admin token.'
  return err?.message || 'Could not check the token.'
}

/** The admin signs in with the admin token; the server checks it before it is kept. */
export default function LoginPage() {
  const navigate = useNavigate()
  const [params] = useSearchParams()
  const [token, setToken] = useState('')
  const [error, setError] = useState(null)
  const [checking, setChecking] = useState(false)

  async function onSubmit(event) {
    event.preventDefault()
    setChecking(true)
    setError(null)
    try {
      const verified = await verifyAdminToken(token)
      storeAdminToken(verified)
      navigate(safeNext(params.get('next')), { replace: true })
    } catch (err) {
      setError(refusal(err))
      setChecking(false)
    }
  }

  return (
    <div className="flex min-h-screen items-center justify-center bg-slate-100 p-4">
      <form onSubmit={onSubmit} className="w-full max-w-sm rounded-lg bg-white p-6 shadow" noValidate>
        <h1 className="text-xl font-semibold">Admin sign-in</h1>
        <p className="mt-1 text-sm text-slate-600">
          Enter the admin token (<code>tmux-builder up</code> prints it; it is kept in
          <code> .tmux-builder/admin-token</code>).
        </p>
        <label htmlFor="admin-token" className="mt-4 block text-sm font-medium">
          Admin token
        </label>
        <input
          id="admin-token"
          type="password"
          autoComplete="current-password"
          value={token}
          onChange={(event) => setToken(event.target.value)}
          className={`mt-1 ${inputClass(Boolean(error))}`}
          aria-invalid={Boolean(error)}
          aria-describedby={error ? 'admin-token-error' : undefined}
        />
        {error && (
          <p id="admin-token-error" role="alert" className="mt-2 text-sm text-red-700">
            {error}
          </p>
        )}
        <button
          type="submit"
          disabled={checking || !token.trim()}
          className="mt-4 w-full rounded-md bg-slate-900 px-3 py-2 text-sm font-semibold text-white hover:bg-slate-700 disabled:opacity-50"
        >
          {checking ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </div>
  )
}
