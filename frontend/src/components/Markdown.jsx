import ReactMarkdown from 'react-markdown'

// Markdown from the AI, shown as text: raw HTML in it is dropped (never rendered), and
// react-markdown's default URL check drops javascript: and other unsafe links.
// react-markdown passes its syntax-tree `node` to every component; it is not a DOM attribute.
function styled(Tag, className) {
  function Styled(props) {
    const rest = { ...props }
    delete rest.node
    return <Tag {...rest} className={className} />
  }
  Styled.displayName = `Markdown.${Tag}`
  return Styled
}

function Link(props) {
  const rest = { ...props }
  delete rest.node
  return <a {...rest} target="_blank" rel="noopener noreferrer" className="text-sky-700 underline hover:text-sky-900" />
}

const COMPONENTS = {
  a: Link,
  p: styled('p', 'my-1 first:mt-0 last:mb-0'),
  ul: styled('ul', 'my-1 list-disc space-y-0.5 pl-5'),
  ol: styled('ol', 'my-1 list-decimal space-y-0.5 pl-5'),
  code: styled('code', 'break-words rounded bg-slate-100 px-1 font-mono text-[0.85em]'),
  pre: styled('pre', 'my-2 overflow-x-auto rounded bg-slate-100 p-2 text-xs'),
  h1: styled('p', 'my-1 font-semibold'),
  h2: styled('p', 'my-1 font-semibold'),
  h3: styled('p', 'my-1 font-semibold'),
  h4: styled('p', 'my-1 font-semibold'),
  // Images from the AI's text are not loaded (no requests to hosts it names): the alt text stays.
  img: ({ alt }) => <span>{alt}</span>,
}

export default function Markdown({ children, className = '' }) {
  return (
    <div className={`min-w-0 break-words ${className}`}>
      <ReactMarkdown skipHtml components={COMPONENTS}>
        {String(children ?? '')}
      </ReactMarkdown>
    </div>
  )
}
