/** The live URL, the screenshot and the E2E result, each shown once the API has it. */
export default function BuildResult({ deployedUrl, screenshotUrl, e2e }) {
  if (!deployedUrl && !screenshotUrl && !e2e) return null
  return (
    <section aria-labelledby="result-heading" className="space-y-4 rounded-lg border border-slate-200 bg-white p-4">
      <h2 id="result-heading" className="text-lg font-semibold">
        Your site
      </h2>
      {deployedUrl && (
        <p className="break-all">
          <span className="text-sm text-slate-500">Live URL: </span>
          <a
            href={deployedUrl}
            target="_blank"
            rel="noopener noreferrer"
            className="font-medium text-sky-700 underline hover:text-sky-900"
          >
            {deployedUrl}
          </a>
        </p>
      )}
      {e2e && <E2ESummary e2e={e2e} />}
      {screenshotUrl && (
        <a href={screenshotUrl} target="_blank" rel="noopener noreferrer" className="block">
          <img
            src={screenshotUrl}
            alt="Screenshot of the deployed site"
            className="w-full rounded border border-slate-200 shadow-sm"
            loading="lazy"
          />
        </a>
      )}
    </section>
  )
}

function E2ESummary({ e2e }) {
  const failed = (e2e.failed ?? 0) + (e2e.errors ?? 0)
  return (
    <p
      className={`inline-flex rounded px-2 py-1 text-sm font-medium ${
        e2e.ok ? 'bg-green-100 text-green-800' : 'bg-red-100 text-red-800'
      }`}
    >
      E2E tests: {e2e.ok ? 'passed' : 'failed'} ({e2e.passed} passed, {failed} failed)
    </p>
  )
}
