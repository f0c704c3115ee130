import { Route, Routes } from 'react-router-dom'

import Layout from './components/Layout.jsx'
import ClientRoute from './pages/ClientPage.jsx'
import AdminApp from './pages/admin/AdminApp.jsx'
import NotFoundPage from './pages/NotFoundPage.jsx'
import OnboardingPage from './pages/OnboardingPage.jsx'
import StatusRoute from './pages/StatusPage.jsx'

/** Every client-side route. The gateway and CloudFront answer unknown paths with index.html. */
export function AppRoutes() {
  return (
    <Routes>
      <Route path="/" element={<OnboardingPage />} />
      <Route path="/client_input" element={<OnboardingPage />} />
      <Route path="/client" element={<ClientRoute />} />
      <Route path="/status/:executionId" element={<StatusRoute />} />
      <Route path="*" element={<NotFoundPage />} />
    </Routes>
  )
}

export default function App() {
  return (
    <Routes>
      {/* The admin portal has its own wide frame and its own login. */}
      <Route path="/admin/*" element={<AdminApp />} />
      <Route
        path="*"
        element={
          <Layout>
            <AppRoutes />
          </Layout>
        }
      />
    </Routes>
  )
}
