/** `iot-jobs-agent status`: what the journal says — current job, recent outcomes, outbox length. */
import { join } from 'node:path';
import { probeStorage } from '../store/probe';
import { readJournal } from '../store/read';
import { parseFlags } from './args';
import { provisioningLines, provisioningView } from './status-identity';
import type { CliIo, Subcommand } from './args';
import { configFrom } from './config-flags';

const USAGE = `Usage: iot-jobs-agent status --config FILE [--json] [--recent N]

Reads the agent's journal (it may be running): the current job, recent outcomes with durations,
the number of status updates waiting to be sent, and whether the state directory can be written
(while it cannot, the agent starts no job and keeps outcomes in memory).`;

function name(e: { namespace: string; jobId: string; executionNumber: number }): string {
  return `${e.namespace ? `${e.namespace}/` : ''}${e.jobId}#${e.executionNumber}`;
}

export const statusCommand: Subcommand = {
  name: 'status',
  summary: "show the journal: current job, recent outcomes, outbox",
  usage: USAGE,
  async run(argv: string[], io: CliIo): Promise<number> {
    const f = parseFlags(argv, { config: { type: 'string' }, json: { type: 'boolean' }, recent: { type: 'string' } });
    const cfg = configFrom(f.config, io);
    const dir = join(cfg.stateDirectory, 'journal');
    const view = await readJournal(dir, { recentLimit: Number(f.recent ?? 10) || 10 });
    const storage = await probeStorage(dir);
    const provisioning = cfg.provisioning ? await provisioningView(cfg) : undefined;
    if (f.json) {
      io.stdout.write(`${JSON.stringify({ current: view.current, recent: view.recent, outboxLength: view.outboxLength, storage, warnings: view.warnings, ...(provisioning ? { provisioning } : {}) }, null, 2)}\n`);
      return 0;
    }
    const out: string[] = [`thing: ${cfg.thingName || '(not provisioned yet)'}`, `state: ${dir}${view.exists ? '' : ' (no state yet)'}`];
    if (provisioning) out.push(...provisioningLines(provisioning));
    out.push(
      storage.writable
        ? `storage: ${storage.summary}`
        : `storage: PROBLEM ${storage.summary}; the agent starts no job until it can write there, and keeps outcomes in memory meanwhile`,
    );
    out.push(view.current.length ? `current: ${view.current.map((e) => `${name(e)} (${e.handler}, ${e.state} since ${new Date(e.startedAt).toISOString()})`).join(', ')}` : 'current: none');
    out.push(`outbox: ${view.outboxLength} update(s) waiting`);
    out.push('recent:');
    for (const r of view.recent) {
      const dur = r.durationMs === undefined ? '' : ` in ${(r.durationMs / 1000).toFixed(1)} s`;
      const reason = r.outcome?.details?.reason ? ` (${r.outcome.details.reason})` : '';
      out.push(`  ${name(r)}  ${r.outcome?.status ?? '?'}${reason}${dur}  [${r.state}]`);
    }
    if (!view.recent.length) out.push('  none');
    for (const w of view.warnings) out.push(`warning: ${w}`);
    io.stdout.write(`${out.join('\n')}\n`);
    return 0;
  },
};
