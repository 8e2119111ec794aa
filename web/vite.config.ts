/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import vue from '@vitejs/plugin-vue';

// The dev server proxies the API to a running gatherd (GATHERD_URL, default the ini default bind).
const backend = process.env.GATHERD_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [vue()],
  base: './',
  build: {
    target: 'es2022',
    reportCompressedSize: true,
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: {
      '/api': backend,
      '/events': { target: backend, ws: false },
      '/health': backend,
      '/ready': backend,
    },
  },
  test: {
    environment: 'jsdom',
    include: ['tests/**/*.test.ts'],
  },
});
