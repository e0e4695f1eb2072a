import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The server serves index.html at `/` (and at each workspace's tracking URI, for MLflow's printed
// run links) and this folder's assets at `/studio/assets/*`, so every asset URL is absolute.
export default defineConfig({
  base: '/studio/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // No inline scripts: the server's Content-Security-Policy allows only 'self' scripts.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    target: 'es2022',
  },
});
