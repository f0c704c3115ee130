// Where the portal keeps the client token from the signed link. The token is the caller's
// identity for every API call except onboarding, so it lives in one place; the admin login
// will keep its credential beside it.

export const CLIENT_TOKEN_KEY = 'tmuxBuilder.clientToken'

// Used when the browser refuses storage (private modes, disabled cookies): the link still
// works for the life of the tab.
let inMemoryToken = null

function storage() {
  try {
    return window.localStorage
  } catch {
    return null
  }
}

export function readClientToken() {
  try {
    return storage()?.getItem(CLIENT_TOKEN_KEY) || inMemoryToken
  } catch {
    return inMemoryToken
  }
}

export function storeClientToken(token) {
  inMemoryToken = token
  try {
    storage()?.setItem(CLIENT_TOKEN_KEY, token)
  } catch {
    // Quota or privacy settings: the in-memory copy is enough for this tab.
  }
}

export function clearClientToken() {
  inMemoryToken = null
  try {
    storage()?.removeItem(CLIENT_TOKEN_KEY)
  } catch {
    // Nothing stored, nothing to clear.
  }
}

export function hasClientToken() {
  return Boolean(readClientToken())
}
