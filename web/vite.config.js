// vite's configuration for the portal (docs/portal.md): the app lives under
// /portal/ on kumod; JSX is Preact's (esbuild, no plugin); nothing is
// inlined into index.html (kumod's Content-Security-Policy allows scripts
// from its own files only).
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/portal/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    chunkSizeWarningLimit: 1000,
    reportCompressedSize: false,
  },
});
