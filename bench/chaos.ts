/**
 * `npm run chaos`: the fault suite. Seeded (`--seed N`), so a failing run can be repeated with the
 * same jobs and the same faults at the same points of progress (timing itself is the machine's).
 * Options: --jobs N --kills K --broker-restarts N --drops N --stalls N --half-opens N --disk-fulls N --seed N.
 * Disk-full faults put the agent's state directory on a tmpfs, which needs root (--disk-fulls 0 otherwise).
 * Exits non-zero when any violation is found.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runChaos } from './chaos/run';
import type { ChaosOptions } from './chaos/plan';

const FLAGS: Record<string, keyof ChaosOptions> = {
  '--seed': 'seed',
  '--jobs': 'jobs',
  '--kills': 'kills',
  '--broker-restarts': 'brokerRestarts',
  '--drops': 'drops',
  '--stalls': 'stalls',
  '--half-opens': 'halfOpens',
  '--disk-fulls': 'diskFulls',
  '--max-job-ms': 'maxJobMs',
  '--deadline-ms': 'deadlineMs',
};

function parseArgs(argv: readonly string[]): Partial<ChaosOptions> {
  const out: Partial<Record<keyof ChaosOptions, number>> = {};
  for (let i = 0; i < argv.length; i += 2) {
    const key = FLAGS[argv[i] ?? ''];
    const value = Number(argv[i + 1]);
    if (!key || !Number.isInteger(value) || value < 0) throw new Error(`usage: chaos [${Object.keys(FLAGS).join(' N | ')} N]; bad argument ${argv[i]} ${argv[i + 1]}`);
    out[key] = value;
  }
  return out as Partial<ChaosOptions>;
}

async function main(): Promise<number> {
  const logDir = join(tmpdir(), `iot-jobs-agent-chaos-${process.pid}`);
  const opts = { ...parseArgs(process.argv.slice(2)), logDir };
  const t0 = Date.now();
  const r = await runChaos(opts, (s) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)} s] ${s}`));
  for (const v of r.violations) console.log(`VIOLATION ${v}`);
  if (r.violations.length > 0) console.log(`agent, handler and broker logs: ${logDir}`);
  const rows: [string, string | number][] = [
    ['seed', r.seed],
    ['jobs', r.jobs],
    ['final statuses', Object.entries(r.byStatus).map(([k, v]) => `${k} ${v}`).join(', ')],
    ['interrupted (killed mid-run)', r.interrupted],
    ['reruns of idempotent jobs', r.rerunsOfIdempotent],
    ['kills (-9)', r.kills],
    ['agent restarts', r.restarts],
    ['broker restarts', r.brokerRestarts],
    ['drops', r.drops],
    ['stalls', r.stalls],
    ['half-open', r.halfOpens],
    ['disk full (ENOSPC hit / resumed)', `${r.diskFulls} (${r.diskFullHits} / ${r.diskResumes})`],
    ['status --config checks', r.statusChecks],
    ['duration', `${(r.durationMs / 1000).toFixed(1)} s`],
    ['violations', r.violations.length],
  ];
  for (const [k, v] of rows) console.log(`${k.padEnd(30)} ${v}`);
  return r.violations.length === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.stack : String(err));
    process.exitCode = 2;
  },
);
