/**
 * The thank-you after an onboarding request: it waits for review, or (`approved`) its build
 * started and is followed through the account owner's personal link.
 */
export default function RequestReceived({ name, approved, message, requestId, onAnother }) {
  return (
    <section
      aria-labelledby="received-heading"
      className="mx-auto max-w-3xl space-y-4 rounded-lg border border-green-200 bg-white p-4 shadow-sm sm:p-6"
    >
      <h1 id="received-heading" className="text-2xl font-bold tracking-tight">
        Thank you{name ? `, ${name}` : ''}!
      </h1>
      <p className="text-slate-700">
        {approved
          ? 'We received your request and your build has started. Follow it through the personal link of your account.'
          : 'We received your request. Someone will review it, and once it is approved you will get a personal link to follow your build.'}
      </p>
      {message && (
        <p role="status" className="rounded-md bg-slate-50 px-3 py-2 text-sm text-slate-700">
          {message}
        </p>
      )}
      {requestId && (
        <p className="text-xs text-slate-500">
          Reference: <code className="break-all font-mono">{requestId}</code>
        </p>
      )}
      <button
        type="button"
        onClick={onAnother}
        className="rounded-md border border-slate-300 bg-white px-4 py-2 text-sm font-medium text-slate-800 hover:bg-slate-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-400"
      >
        Send another request
      </button>
    </section>
  )
}
