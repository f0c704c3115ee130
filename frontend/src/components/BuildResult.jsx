/** The live URL, the screenshot and the E2E result, each shown once the API has it; `children`
 * are the site's actions (redeploy). */
export default function BuildResult({
  deployedUrl,
  screenshotUrl,
  mobileScreenshotUrl = null,
  e2e,
  className = '',
  children,
}) {
  if (!deployedUrl && !screenshotUrl && !e2e && !children) return null
  return (
    <section
      aria-labelledby="result-heading"
      className={`space-y-4 rounded-lg border border-slate-200 bg-white p-4 ${className}`}
    >
      <h2 id="result-heading" className="text-lg font-semibold">
        Your site
      </h2>
      {deployedUrl ? (
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
      ) : (
        <p className="text-sm text-slate-500">The address appears here once the site is deployed.</p>
      )}
      {e2e && <E2ESummary e2e={e2e} />}
      {screenshotUrl && <Screenshots desktopUrl={screenshotUrl} mobileUrl={mobileScreenshotUrl} />}
      {children}
    </section>
  )
}

function E2ESummary({ e2e }) {
  const failed = (e2e.failed ?? 0) + (e2e.errors ?? 0)
  return (
    <p
      data-testid="e2e-result"
      className={`inline-flex rounded px-2 py-1 text-sm font-medium ${
        e2e.ok ? 'bg-green-100 text-green-800' : 'bg-red-100 text-red-800'
      }`}
    >
      E2E tests: {e2e.ok ? 'passed' : 'failed'} ({e2e.passed} passed, {failed} failed)
    </p>
  )
}

// The top of a full-page screenshot; the link opens all of it.
function Shot({ url, alt, className }) {
  return (
    <a
      href={url}
      target="_blank"
      rel="noopener noreferrer"
      className={`block max-h-80 overflow-hidden rounded border border-slate-200 shadow-sm ${className}`}
    >
      <img src={url} alt={alt} className="w-full" loading="lazy" />
    </a>
  )
}

function Screenshots({ desktopUrl, mobileUrl }) {
  return (
    <figure className="space-y-1">
      <div className="flex items-start gap-3">
        <Shot url={desktopUrl} alt="Screenshot of the deployed site" className="min-w-0 flex-1" />
        {mobileUrl && <Shot url={mobileUrl} alt="The deployed site on a phone" className="w-1/4 shrink-0" />}
      </div>
      <figcaption className="text-xs text-slate-500">
        Screenshots taken after the deploy{mobileUrl ? ' (desktop and phone)' : ''}. Select one to see the whole page.
      </figcaption>
    </figure>
  )
}
