/**
 * The agent as users run it: `bin/iot-jobs-agent.js run --config FILE` in a child process, its JSON
 * log lines collected so a test can wait for an event instead of sleeping.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Stack } from './stack';

export const BIN = join(__dirname, '..', '..', 'bin', 'iot-jobs-agent.js');

export type LogLine = Record<string, unknown> & { msg?: string };

export class AgentProcess {
  readonly lines: LogLine[] = [];
  readonly raw: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly waiters = new Set<() => void>();
  readonly child: ChildProcess;

  /** `command`: what runs the CLI (default: this node with bin/; the release tests give the standalone executable). */
  constructor(args: string[], env: NodeJS.ProcessEnv = {}, command: string[] = [process.execPath, BIN]) {
    const [cmd = process.execPath, ...pre] = command;
    this.child = spawn(cmd, [...pre, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    const onData = (chunk: Buffer): void => {
      buf += chunk.toString('utf8');
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        this.raw.push(line);
        try {
          this.lines.push(JSON.parse(line) as LogLine);
        } catch {
          this.lines.push({ msg: line });
        }
      }
      for (const w of this.waiters) w();
    };
    this.child.stdout?.on('data', onData);
    this.child.stderr?.on('data', onData);
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => {
      for (const w of this.waiters) w();
      resolve({ code, signal });
    }));
  }

  /** Resolves with the first log line (past or future) matching `pred`. */
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs = 30_000): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const hit = this.lines.find(pred);
        if (hit) {
          this.waiters.delete(onChange);
          clearTimeout(timer);
          resolve(hit);
          return true;
        }
        return false;
      };
      const onChange = (): void => void check();
      const timer = setTimeout(() => {
        this.waiters.delete(onChange);
        reject(new Error(`no matching log line within ${timeoutMs} ms; last lines:\n${this.raw.slice(-15).join('\n')}`));
      }, timeoutMs);
      this.waiters.add(onChange);
      check();
    });
  }

  count(pred: (l: LogLine) => boolean): number {
    return this.lines.filter(pred).length;
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }
}

/** Waits (polling a cheap in-process condition) until `cond` holds. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Test handlers, written at test time so their files have the modes the loader insists on. */
export const TEST_HANDLERS: Record<string, string> = {
  // Non-idempotent (restart policy "fail"): appends one line per run to a log, then works for doc.ms.
  'record.js': `'use strict';
const fs = require('node:fs');
module.exports = {
  name: 'record',
  async run(ctx) {
    const doc = ctx.document;
    fs.appendFileSync(ctx.options.logFile, JSON.stringify({ jobId: ctx.job.jobId, executionNumber: ctx.job.executionNumber, namespace: ctx.job.namespace || '', pid: process.pid }) + '\\n');
    if (doc.progress) ctx.progress({ step: 'working' });
    await new Promise((resolve, reject) => {
      const t = setTimeout(resolve, doc.ms || 0);
      ctx.signal.addEventListener('abort', () => { clearTimeout(t); fs.appendFileSync(ctx.options.logFile, JSON.stringify({ aborted: ctx.job.jobId, reason: String(ctx.signal.reason && ctx.signal.reason.message) }) + '\\n'); reject(ctx.signal.reason); }, { once: true });
    });
    return doc.fail ? { status: 'FAILED', details: { reason: 'asked to fail' } } : { status: 'SUCCEEDED', details: { ran: ctx.job.jobId } };
  },
};
`,
  // Idempotent (restart policy "rerun").
  'again.js': `'use strict';
const fs = require('node:fs');
module.exports = {
  name: 'again',
  restartPolicy: 'rerun',
  async run(ctx) {
    fs.appendFileSync(ctx.options.logFile, JSON.stringify({ again: ctx.job.jobId, pid: process.pid }) + '\\n');
    await new Promise((resolve, reject) => {
      const t = setTimeout(resolve, ctx.document.ms || 0);
      ctx.signal.addEventListener('abort', () => { clearTimeout(t); reject(ctx.signal.reason); }, { once: true });
    });
    return { status: 'SUCCEEDED' };
  },
};
`,
};

export interface AgentSetup {
  configFile: string;
  stateDir: string;
  handlerLog: string;
  config: Record<string, unknown>;
}

/**
 * TEST_AGENT_TRANSPORT=aws-crt runs every agent of the e2e suite on the aws-crt transport
 * (same key files), so the suite proves both transports; a test's own mqtt settings still win. Not
 * IOT_JOBS_AGENT_*: the CLI treats those as configuration overrides and refuses unknown ones.
 */
function testTransport(): { transport?: string } {
  const t = process.env['TEST_AGENT_TRANSPORT'];
  return t === undefined || t === '' ? {} : { transport: t };
}

/** A config for `thing` against the stack, with the test handlers installed. */
export async function agentConfig(stack: Stack, thing: string, name: string, extra: { jobs?: Record<string, unknown>; mqtt?: Record<string, unknown> } = {}): Promise<AgentSetup> {
  const base = join(stack.dir, `agent-${name}`);
  const handlersDir = join(base, 'handlers');
  await mkdir(handlersDir, { recursive: true, mode: 0o755 });
  await chmod(base, 0o755);
  await chmod(handlersDir, 0o755);
  for (const [file, text] of Object.entries(TEST_HANDLERS)) {
    await writeFile(join(handlersDir, file), text, { mode: 0o644 });
    await chmod(join(handlersDir, file), 0o644);
  }
  const files = stack.pki.things[thing];
  if (!files) throw new Error(`no certificate for ${thing}`);
  const handlerLog = join(base, 'handler.log');
  const stateDir = join(base, 'state');
  const config = {
    thingName: thing,
    mqtt: { endpoint: '127.0.0.1', port: stack.broker.port, keepAliveSeconds: 30, ...testTransport(), ...extra.mqtt },
    tls: { certificateFile: files.certificateFile, privateKeyFile: files.privateKeyFile, rootCaFile: stack.pki.caFile },
    jobs: { dataPlaneEndpoint: stack.sim.endpoints.dataPlane, requestTimeoutSeconds: 3, progressIntervalSeconds: 1, drainGraceSeconds: 2, ...extra.jobs },
    handlers: { directories: [handlersDir], options: { record: { logFile: handlerLog }, again: { logFile: handlerLog } } },
    stateDirectory: stateDir,
    log: { level: 'debug' },
  };
  const configFile = join(base, 'agent.json');
  await writeFile(configFile, JSON.stringify(config, null, 2));
  return { configFile, stateDir, handlerLog, config };
}
