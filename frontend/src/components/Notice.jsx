const TONES = {
  info: 'border-slate-200 bg-white text-slate-700',
  warning: 'border-amber-300 bg-amber-50 text-amber-900',
  error: 'border-red-300 bg-red-50 text-red-900',
}

export default function Notice({ tone = 'info', role, children }) {
  return (
    <div role={role} className={`rounded-lg border px-4 py-3 text-sm ${TONES[tone]}`}>
      {children}
    </div>
  )
}
