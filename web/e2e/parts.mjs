// Which spec files run. The page specs (numbered: they run in this order against the one
// gatherd that global-setup.mjs starts, and the later ones need it to have run a while) form the
// `main` part; `token`, `resume` and `perf` start gatherd instances of their own. E2E_ONLY=part
// runs one part; `perf` runs only with E2E_PERF_INVOCATIONS=N.

const kParts = {
  main: ['1-overview', '2-stats', '3-invocations', '4-sources', '5-alerts'],
  token: ['6-token'],
  resume: ['7-resume'],
  perf: ['8-perf'],
};

function selected() {
  const only = process.env.E2E_ONLY ?? '';
  if (only && !kParts[only]) throw new Error(`E2E_ONLY=${only}: not one of ${Object.keys(kParts).join(', ')}`);
  const perf = Number(process.env.E2E_PERF_INVOCATIONS ?? 0) > 0;
  return Object.keys(kParts).filter((p) => (only ? p === only : p !== 'perf') && (p !== 'perf' || perf));
}

export const runsMain = () => selected().includes('main');

/** The spec files to run, as testMatch globs. */
export const specFiles = () => selected().flatMap((p) => kParts[p].map((name) => `**/${name}.spec.mjs`));
