/**
 * The agent as the chaos harness runs it: `bin/iot-jobs-agent.js run --config FILE` in a child
 * process (as test/support/agent-proc.ts does; bench/ is built without test/), its JSON log lines
 * kept so the harness can wait for an event, and the handler modules the harness installs.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** The package root: the nearest folder up with a package.json (works from bench/ and dist/bench/). */
function packageRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${from}`);
    dir = up;
  }
  return dir;
}

export const BIN = join(packageRoot(__dirname), 'bin', 'iot-jobs-agent.js');

export type LogLine = Record<string, unknown> & { msg?: string };

export class AgentProcess {
  readonly lines: LogLine[] = [];
  readonly raw: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly waiters = new Set<() => void>();
  readonly child: ChildProcess;

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env['PATH'] }, stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    const onData = (chunk: Buffer): void => {
      buf += chunk.toString('utf8');
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        this.raw.push(line);
        this.lines.push(parseLine(line));
      }
      for (const w of this.waiters) w();
    };
    this.child.stdout?.on('data', onData);
    this.child.stderr?.on('data', onData);
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        for (const w of this.waiters) w();
        resolve({ code, signal });
      }),
    );
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves with the first log line from `from` on matching `pred`; undefined on timeout or exit. */
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs: number, from = 0): Promise<LogLine | undefined> {
    return new Promise((resolve) => {
      const done = (hit: LogLine | undefined): void => {
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve(hit);
      };
      const check = (): void => {
        const hit = this.lines.slice(from).find(pred);
        if (hit) done(hit);
        else if (!this.running) done(undefined);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }
}

function parseLine(line: string): LogLine {
  try {
    const v: unknown = JSON.parse(line);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as LogLine) : { msg: line };
  } catch {
    return { msg: line };
  }
}

/** `status --config F`: exit code and output (the journal must stay readable through every kill). */
export function runStatus(configFile: string): { code: number | null; output: string } {
  const r = spawnSync(process.execPath, [BIN, 'status', '--config', configFile], { encoding: 'utf8', timeout: 20_000, env: { PATH: process.env['PATH'] } });
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

/**
 * Handlers written at run time (the loader insists on their modes). Both log a `start` line before
 * working and an `end` line with their result just before returning, so the checker can tell a
 * run killed mid-way from one that finished.
 */
const HANDLER = (name: string, policy: string): string => `'use strict';
const fs = require('node:fs');
module.exports = {
  name: '${name}',
  restartPolicy: '${policy}',
  async run(ctx) {
    const doc = ctx.document;
    const who = { h: '${name}', jobId: ctx.job.jobId, executionNumber: ctx.job.executionNumber, namespace: ctx.job.namespace || '', pid: process.pid };
    fs.appendFileSync(ctx.options.logFile, JSON.stringify({ ...who, event: 'start' }) + '\\n');
    await new Promise((resolve, reject) => {
      const t = setTimeout(resolve, doc.ms || 0);
      ctx.signal.addEventListener('abort', () => { clearTimeout(t); reject(ctx.signal.reason); }, { once: true });
    });
    const status = doc.fail ? 'FAILED' : 'SUCCEEDED';
    fs.appendFileSync(ctx.options.logFile, JSON.stringify({ ...who, event: 'end', status }) + '\\n');
    return status === 'FAILED' ? { status, details: { reason: 'asked to fail' } } : { status, details: { ran: ctx.job.jobId } };
  },
};
`;

export interface AgentSetup {
  configFile: string;
  stateDir: string;
  handlerLog: string;
}

export interface AgentSetupInput {
  dir: string;
  thing: string;
  mqttPort: number;
  dataPlane: string;
  caFile: string;
  cert: { certificateFile: string; privateKeyFile: string };
  namespace: string;
}

/** A config for the agent behind the proxy, with `record` (policy fail) and `again` (policy rerun). */
export async function writeAgentSetup(i: AgentSetupInput): Promise<AgentSetup> {
  const handlersDir = join(i.dir, 'handlers');
  await mkdir(handlersDir, { recursive: true, mode: 0o755 });
  await chmod(i.dir, 0o755);
  await chmod(handlersDir, 0o755);
  for (const [name, policy] of [['record', 'fail'], ['again', 'rerun']] as const) {
    const file = join(handlersDir, `${name}.js`);
    await writeFile(file, HANDLER(name, policy), { mode: 0o644 });
    await chmod(file, 0o644);
  }
  const handlerLog = join(i.dir, 'handler.log');
  const stateDir = join(i.dir, 'state');
  const config = {
    thingName: i.thing,
    mqtt: { endpoint: '127.0.0.1', port: i.mqttPort, keepAliveSeconds: 30 },
    tls: { ...i.cert, rootCaFile: i.caFile },
    jobs: { namespaces: [i.namespace], dataPlaneEndpoint: i.dataPlane, requestTimeoutSeconds: 3, progressIntervalSeconds: 1, drainGraceSeconds: 1, safetyPollSeconds: 10 },
    handlers: { directories: [handlersDir], options: { record: { logFile: handlerLog }, again: { logFile: handlerLog } } },
    stateDirectory: stateDir,
    log: { level: 'debug' },
  };
  const configFile = join(i.dir, 'agent.json');
  await writeFile(configFile, JSON.stringify(config, null, 2));
  return { configFile, stateDir, handlerLog };
}
