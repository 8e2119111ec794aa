// The dashboard's browser tests (@playwright/test) in Debian's Chromium against the real
// gatherd: `npm run e2e` (builds web/dist first). One worker, the spec files in order (parts.mjs).

import { defineConfig } from '@playwright/test';
import { specFiles } from './parts.mjs';
import { launchOptions } from './support.mjs';

export default defineConfig({
  testDir: '.',
  testMatch: specFiles(),
  workers: 1,
  fullyParallel: false,
  retries: 0,
  forbidOnly: true,
  // A check polls with its own limits (the forecast waits up to 90 s); this only stops a hang.
  timeout: 180_000,
  globalSetup: './global-setup.mjs',
  reporter: [['list'], ['./summary-reporter.mjs']],
  outputDir: '../e2e-results',
  use: { launchOptions },
});
