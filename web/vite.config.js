import { defineConfig } from 'vite';
import { resolve } from 'node:path';

// The build lands in dist/, which the Go package web embeds into the binary:
// the desk at / (index.html) and the inspector's phone page at /m (m/index.html).
const server = 'http://127.0.0.1:8080';
export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist', emptyOutDir: false, chunkSizeWarningLimit: 2000,
    rollupOptions: { input: { desk: resolve(import.meta.dirname, 'index.html'), phone: resolve(import.meta.dirname, 'm/index.html') } },
  },
  server: { proxy: { '/api': server, '/tiles': server, '/healthz': server } },
});
