import { defineConfig } from 'vite'
import react from '@vitejs/plugin-react'

// The gateway serves the portal and the API from one origin, so the app calls `/api/...`
// relatively. In `npm run dev` the same paths are proxied to the gateway.
const apiTarget = process.env.TMUX_BUILDER_API ?? 'http://127.0.0.1:8080'

export default defineConfig({
  base: '/',
  plugins: [react()],
  server: {
    proxy: { '/api': { target: apiTarget, changeOrigin: true } },
  },
  build: { outDir: 'dist', emptyOutDir: true },
  test: {
    environment: 'jsdom',
    setupFiles: ['./src/test/setup.js'],
    restoreMocks: true,
    unstubGlobals: true,
  },
})
