import { useSyncExternalStore } from 'react'

import { readAdminToken, subscribeAdminToken } from '../../api/admin.js'

/** The admin token as it is now (null when signed out); re-renders when it changes. */
export function useAdminToken() {
  return useSyncExternalStore(subscribeAdminToken, readAdminToken, () => null)
}
