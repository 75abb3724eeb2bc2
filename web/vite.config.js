import { defineConfig } from 'vite';

// The build lands in dist/, which the Go package web embeds into the binary.
export default defineConfig({
  base: '/',
  build: { outDir: 'dist', emptyOutDir: false, chunkSizeWarningLimit: 2000 },
  server: { proxy: { '/api': 'http://127.0.0.1:8080', '/healthz': 'http://127.0.0.1:8080' } },
});
