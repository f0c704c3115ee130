import { Navigate, Route, Routes, useLocation } from 'react-router-dom'

import AdminLayout from '../../components/admin/AdminLayout.jsx'
import { useAdminToken } from '../../components/admin/useAdminToken.js'
import LoginPage from './LoginPage.jsx'
import NewSessionPage from './NewSessionPage.jsx'
import RequestsPage from './RequestsPage.jsx'
import SessionDetailPage from './SessionDetailPage.jsx'
import SessionsPage from './SessionsPage.jsx'

/** Every admin page but the login: without the admin token (or after any 401), the login. */
export function RequireAdmin() {
  const token = useAdminToken()
  const location = useLocation()
  if (!token) {
    const next = encodeURIComponent(location.pathname + location.search)
    return <Navigate to={`/admin/login?next=${next}`} replace />
  }
  return <AdminLayout />
}

/** The admin portal's routes, mounted at /admin/*. */
export default function AdminApp() {
  return (
    <Routes>
      <Route path="login" element={<LoginPage />} />
      <Route element={<RequireAdmin />}>
        <Route index element={<Navigate to="/admin/sessions" replace />} />
        <Route path="sessions" element={<SessionsPage />} />
        <Route path="sessions/new" element={<NewSessionPage />} />
        <Route path="sessions/:sessionId" element={<SessionDetailPage />} />
        <Route path="requests" element={<RequestsPage />} />
        <Route path="*" element={<p className="text-slate-600">No such admin page.</p>} />
      </Route>
    </Routes>
  )
}
