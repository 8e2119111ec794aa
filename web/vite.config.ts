/// <reference types="vitest/config" />
import { gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';
import vue from '@vitejs/plugin-vue';

// The dev server proxies the API to a running gatherd (GATHERD_URL, default the ini default bind).
const backend = process.env.GATHERD_URL ?? 'http://127.0.0.1:8080';

// Writes a gzip copy beside each script and style sheet, so a static server can send
// `x.js.gz` to clients that accept gzip without compressing on every request.
function precompress(): Plugin {
  return {
    name: 'gatherd-precompress',
    apply: 'build',
    generateBundle(_options, bundle) {
      for (const [fileName, item] of Object.entries(bundle)) {
        if (!/\.(js|css)$/.test(fileName)) continue;
        const source = item.type === 'chunk' ? item.code : item.source;
        this.emitFile({ type: 'asset', fileName: `${fileName}.gz`, source: gzipSync(source, { level: 9 }) });
      }
    },
  };
}

export default defineConfig({
  plugins: [vue(), precompress()],
  base: './',
  build: {
    target: 'es2022',
    reportCompressedSize: true,
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: {
      '/api': backend,
      '/events': backend,
      '/health': backend,
      '/ready': backend,
    },
  },
  test: {
    environment: 'jsdom',
    include: ['tests/**/*.test.ts'],
  },
});
