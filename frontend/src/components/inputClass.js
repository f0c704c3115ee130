/** Tailwind classes of a text input, red when it has an error. */
export const inputClass = (error) =>
  [
    'block w-full rounded-md border bg-white px-3 py-2 text-base shadow-sm',
    'focus:outline-none focus:ring-2',
    error
      ? 'border-red-400 focus:border-red-500 focus:ring-red-200'
      : 'border-slate-300 focus:border-sky-500 focus:ring-sky-200',
  ].join(' ')
