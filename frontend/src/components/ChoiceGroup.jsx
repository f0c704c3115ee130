/** A radio group shown as cards; options with `available: false` are disabled "coming soon". */
export default function ChoiceGroup({ name, legend, options, value, onChange, error }) {
  const errorId = error ? `${name}-error` : undefined
  return (
    <fieldset aria-describedby={errorId}>
      <legend className="mb-1 block text-sm font-medium text-slate-800">{legend}</legend>
      <div className="grid grid-cols-1 gap-2 sm:grid-cols-2">
        {options.map((option) => {
          const id = `${name}-${option.value}`
          const checked = value === option.value
          return (
            <label
              key={option.value}
              htmlFor={id}
              className={[
                'flex items-center gap-3 rounded-md border px-3 py-2',
                option.available ? 'cursor-pointer bg-white' : 'cursor-not-allowed bg-slate-100 text-slate-500',
                checked ? 'border-sky-500 ring-2 ring-sky-200' : 'border-slate-300',
              ].join(' ')}
            >
              <input
                id={id}
                type="radio"
                name={name}
                value={option.value}
                checked={checked}
                disabled={!option.available}
                onChange={() => onChange(option.value)}
                className="h-4 w-4 accent-sky-600"
              />
              <span className="font-medium">{option.label}</span>
              {!option.available && (
                <span className="ml-auto rounded bg-slate-200 px-2 py-0.5 text-xs text-slate-600">coming soon</span>
              )}
            </label>
          )
        })}
      </div>
      {error && (
        <p id={errorId} className="mt-1 text-sm text-red-600">
          {error}
        </p>
      )}
    </fieldset>
  )
}
