// What a person reads of a build's raw activity (notify events from the AI's session, the
// agent and the pipeline). Raw events carry bucket names, distribution ids, regions and file
// names of our own bookkeeping; a client sees plain progress instead. Admins can switch the
// panel to the raw messages. Pure: same event in, same line out.

// JSON-ish keys whose presence marks a message as raw infrastructure output (the seed's list).
const RAW_KEYS = /\b(s3_bucket|cloudfront_id|cloudfront_url|distribution_id|bucket_name|region)\b/i
// An AWS region such as us-east-1 or ap-southeast-2.
const AWS_REGION = /\b(us|eu|ap|sa|ca|me|af|il|mx)-(gov-)?(east|west|north|south|central|northeast|northwest|southeast|southwest)-\d\b/i
// Our own bookkeeping files: prompt files and step summaries, named with ids.
const BOOKKEEPING_FILE = /\b(prompts\/[\w.-]+\.txt|summary-[\w.-]+\.md|system_prompt\.txt)\b/i
const PERCENT = /^\s*(\d{1,3}(?:\.\d+)?)\s*%?\s*$/

// Checked in order; the first match names the line. `test` sees the lower-cased message.
const PHRASES = [
  { test: (m) => /deployment (is )?complete/.test(m), text: 'Deployment complete!', tone: 'success' },
  { test: (m) => /npm (ci|install|i)\b/.test(m), text: 'Installing dependencies...' },
  { test: (m) => /npm run build|vite build/.test(m), text: 'Building project...' },
  {
    test: (m) => /(s3 )?bucket (is )?(created|ready)|created (s3 |storage )?bucket/.test(m),
    text: 'Storage bucket ready',
  },
  { test: (m) => /creat\w* (an? )?(s3 )?bucket|s3 bucket/.test(m), text: 'Creating storage bucket...' },
  {
    test: (m) => /cloudfront (distribution )?(is )?(created|configured|ready)|created cloudfront/.test(m),
    text: 'CDN configured',
  },
  { test: (m) => /cloudfront|distribution|invalidat/.test(m), text: 'Setting up CDN...' },
  { test: (m) => /^uploading \d+ files?\b/.test(m), text: (m) => `Uploading ${m.match(/\d+ files?/)[0]}...` },
]

const HIDDEN = { text: '', hidden: true }

function isRawJson(message) {
  const text = message.trim()
  if (!/^[[{]/.test(text)) return false
  try {
    JSON.parse(text)
    return true
  } catch {
    // Truncated JSON is still raw output when it carries infrastructure names.
    return /"[\w-]+"\s*:/.test(text)
  }
}

/** Why a message is only for admins, or null: raw JSON, infrastructure ids, bookkeeping. */
function rawReason(message) {
  if (isRawJson(message)) return 'json'
  if (RAW_KEYS.test(message)) return 'infrastructure'
  if (AWS_REGION.test(message)) return 'region'
  if (BOOKKEEPING_FILE.test(message)) return 'bookkeeping'
  return null
}

function progressLine(message) {
  const match = PERCENT.exec(message)
  if (!match) return message.trim() ? { text: message.trim(), tone: 'info' } : HIDDEN
  const value = Math.max(0, Math.min(100, Math.round(Number(match[1]))))
  return { text: `${value}%`, progress: value, tone: 'info' }
}

/** The activity type of a REST (`type`) or WebSocket (`activity_type`) event. */
export function activityType(event) {
  return String(event?.type ?? event?.activity_type ?? 'status').toLowerCase()
}

/**
 * The line a person should read for one raw activity event.
 *
 * Returns `{ text, tone, hidden?, progress?, markdown? }`:
 * - `hidden: true` for raw infrastructure output (JSON, bucket and distribution ids, regions,
 *   prompt and summary file names) and acknowledgements;
 * - `progress` (0-100) for a percentage, shown as "75%";
 * - `markdown: true` for the AI's step summaries (rendered, never as HTML);
 * - `tone`: `info`, `success` or `error`.
 */
export function describeActivity(event) {
  const type = activityType(event)
  const message = String(event?.message ?? '')
  if (type === 'ack') return HIDDEN
  if (type === 'progress') return progressLine(message)
  if (type === 'error') {
    if (rawReason(message)) return { text: 'Something went wrong in this step.', tone: 'error' }
    return { text: message.trim() || 'Something went wrong.', tone: 'error' }
  }
  if (type === 'deployed') return { text: 'Your site is deployed.', tone: 'success' }
  if (type === 'done' && !message.trim()) return { text: 'Complete', tone: 'success' }
  if (type === 'summary') return message.trim() ? { text: message.trim(), tone: 'info', markdown: true } : HIDDEN
  if (!message.trim() || rawReason(message)) return HIDDEN

  const lower = message.toLowerCase()
  const phrase = PHRASES.find((p) => p.test(lower))
  if (phrase) {
    const text = typeof phrase.text === 'function' ? phrase.text(lower) : phrase.text
    return { text, tone: phrase.tone ?? 'info' }
  }
  return { text: message.trim(), tone: type === 'done' ? 'success' : 'info' }
}

/**
 * The lines of an activity list as a person reads them, in the given order: hidden lines
 * dropped, and a repeated line (same text in a row, e.g. two CDN messages) shown once.
 */
export function readableActivity(events) {
  const lines = []
  for (const event of events ?? []) {
    const line = describeActivity(event)
    if (line.hidden) continue
    if (lines.length > 0 && lines[lines.length - 1].text === line.text) continue
    lines.push({ ...line, at: event.at, step: event.step ?? null })
  }
  return lines
}
