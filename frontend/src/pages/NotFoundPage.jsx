import { Link } from 'react-router-dom'

export default function NotFoundPage() {
  return (
    <div className="space-y-4">
      <h1 className="text-2xl font-bold">Page not found</h1>
      <Link to="/" className="font-medium text-sky-700 underline">
        Go to the start page
      </Link>
    </div>
  )
}
