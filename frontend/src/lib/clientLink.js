// The client link is `<portal>/client#token=<token>`: the token rides in the fragment, which
// the browser never sends to a server (no access logs, no Referer).

/** The token in a location hash such as `#token=abc`, or null. */
export function tokenFromFragment(hash) {
  const params = new URLSearchParams(String(hash ?? '').replace(/^#/, ''))
  const token = params.get('token')?.trim()
  return token || null
}
