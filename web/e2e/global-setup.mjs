// Before the specs: checks that the binaries and web/dist are there, clears old failure
// screenshots and, when a page spec runs, starts the main gatherd (demo source, 120 calls a
// minute; an xychatai-codex source on the fake upstream, whose session has expired; SQLite and
// SSE sinks) that those specs share. Returns the teardown, which stops it and checks that the
// cookie value never reached its log.

import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assert, getJson, outputTails, paths, startGatherd, startProcess, stopAll, waitFor, waitForOutput } from './support.mjs';
import { runsMain } from './parts.mjs';

export default async function globalSetup() {
  for (const [what, p] of Object.entries({ gatherd: paths.gatherd, 'plugin dir': paths.plugins, 'fake upstream': paths.fake, 'web/dist': paths.dist })) {
    if (!existsSync(p)) throw new Error(`${what} not found at ${p} (see the environment variables in web/README.md)`);
  }
  if (!paths.chromium) throw new Error('no Chromium: apt-get install -y chromium (or set CHROMIUM_BIN)');
  mkdirSync(paths.screenshots, { recursive: true });
  for (const f of readdirSync(paths.screenshots)) if (f.startsWith('failed-')) rmSync(join(paths.screenshots, f));
  const work = mkdtempSync(join(tmpdir(), 'gatherd-e2e-'));
  process.env.E2E_WORK = work;
  const cleanUp = () => {
    if (!process.env.E2E_KEEP) rmSync(work, { recursive: true, force: true });
  };
  if (!runsMain()) return cleanUp;

  let gatherd;
  try {
    const fake = startProcess('fake-upstream', paths.fake, ['--expired', '--print-port']);
    const fakePort = (await waitForOutput(fake, /^(\d+)\s*$/m, 15_000))[1];
    const dir = join(work, 'main');
    mkdirSync(dir);
    const started = await startGatherd(dir, { fakePort, dbPath: join(dir, 'gatherd.db'), callsPerMinute: 120 });
    gatherd = started.proc;
    console.log(`gatherd at ${started.base}, fake upstream on port ${fakePort}`);
    await waitFor('a few invocations in the store', async () => (await getJson(started.base, 'api/invocations?limit=5')).items.length >= 5, 30_000, 250);
    Object.assign(process.env, { E2E_MAIN_BASE: started.base, E2E_MAIN_PID: String(gatherd.child.pid), E2E_MAIN_DIR: dir });
  } catch (e) {
    for (const tail of outputTails()) console.log(tail);
    await stopAll();
    cleanUp();
    throw e;
  }

  return async () => {
    await stopAll();
    try {
      assert(!gatherd.output.includes('e2e-not-a-real-cookie'), 'the cookie value appeared in the gatherd log');
    } finally {
      cleanUp();
    }
  };
}
