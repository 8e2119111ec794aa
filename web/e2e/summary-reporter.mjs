// Ends the run with the line the old runner printed and CI logs are read for:
// "screenshots: DIR (N files)" and "N passed, M failed" (errors outside a test, such as a failed
// global setup or teardown, count as failed).

import { existsSync, readdirSync } from 'node:fs';
import { paths } from './support.mjs';

export default class SummaryReporter {
  passed = 0;
  failed = 0;
  skipped = 0;

  printsToStdio() {
    return false;
  }

  onTestEnd(test, result) {
    if (result.status === 'skipped') this.skipped++;
    else if (result.status === test.expectedStatus) this.passed++;
    else this.failed++;
  }

  onError(error) {
    this.failed++;
    console.log(`FAIL outside a test: ${error.message ?? error.value ?? error}`);
  }

  onEnd() {
    const shots = existsSync(paths.screenshots) ? readdirSync(paths.screenshots).filter((f) => f.endsWith('.png')).length : 0;
    console.log(`screenshots: ${paths.screenshots} (${shots} files)`);
    console.log(`${this.passed} passed, ${this.failed} failed${this.skipped ? `, ${this.skipped} skipped` : ''}`);
  }
}
