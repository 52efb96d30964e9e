/**
 * When this agent was built (seconds since the epoch): the floor under the effective time signed
 * job documents are checked against (docs/SIGNING.md, "Time"), so that a device booting with its
 * clock in 1970 never takes an expired envelope for a valid one. The build writes
 * `build-time.json` beside the compiled module (packaging/build-time.ts: the last commit's time,
 * so a rebuild gives the same bytes); run from the sources there is none, and the floor is 0.
 */
export function buildTime(): number {
  /* eslint-disable @typescript-eslint/no-require-imports -- written by the build; a literal path so a bundler takes it in */
  try {
    const v = (require('./build-time.json') as { builtAt?: unknown }).builtAt;
    return typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : 0;
  } catch {
    return 0;
  }
  /* eslint-enable @typescript-eslint/no-require-imports */
}
