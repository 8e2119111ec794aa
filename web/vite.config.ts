/// <reference types="vitest/config" />
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';
import vue from '@vitejs/plugin-vue';

// The dev server proxies the API to a running gatherd (GATHERD_URL, default the ini default bind).
const backend = process.env.GATHERD_URL ?? 'http://127.0.0.1:8080';

// Writes a gzip copy beside each script and style sheet, so a static server can send
// `x.js.gz` to clients that accept gzip without compressing on every request. It compresses the
// files as written: chunk code seen earlier (generateBundle) can still change afterwards (the
// preload helper's dependency lists), and a stale .gz would serve a different script.
function precompress(): Plugin {
  let outDir = 'dist';
  return {
    name: 'gatherd-precompress',
    apply: 'build',
    configResolved(config) {
      outDir = join(config.root, config.build.outDir);
    },
    writeBundle() {
      const assets = join(outDir, 'assets');
      for (const name of readdirSync(assets)) {
        if (!/\.(js|css)$/.test(name)) continue;
        const file = join(assets, name);
        writeFileSync(`${file}.gz`, gzipSync(readFileSync(file), { level: 9 }));
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
