import '@testing-library/jest-dom/vitest'
import { cleanup } from '@testing-library/react'
import { afterEach } from 'vitest'

import { clearClientToken } from '../api/credentials.js'

afterEach(() => {
  cleanup()
  clearClientToken()
  window.history.replaceState(null, '', '/')
})
