import { stepTitle } from '../lib/pipeline.js'

/** Why the build failed: the failing step, the error name and its cause. */
export default function ErrorPanel({ error }) {
  return (
    <section role="alert" className="rounded-lg border border-red-300 bg-red-50 p-4 text-red-900">
      <h2 className="font-semibold">
        {error?.step ? `Failed at step “${stepTitle(error.step)}”` : 'The build failed'}
      </h2>
      {error?.error && <p className="mt-1 font-mono text-sm">{error.error}</p>}
      {error?.cause && <p className="mt-1 whitespace-pre-wrap break-words text-sm">{error.cause}</p>}
    </section>
  )
}
