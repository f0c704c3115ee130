import { Link } from 'react-router-dom'

/** What to do when the personal link is missing, expired or for someone else. */
export default function LinkHelp({ children }) {
  return (
    <div className="space-y-3 text-slate-700">
      {children}
      <ul className="list-disc space-y-1 pl-5 text-sm">
        <li>Open the most recent personal link we gave you (it ends in <code className="font-mono">/client#token=…</code>).</li>
        <li>Links expire after a while. If yours has, ask us for a new one.</li>
        <li>
          New here?{' '}
          <Link to="/" className="font-medium text-sky-700 underline">
            Request a website
          </Link>
          .
        </li>
      </ul>
    </div>
  )
}
