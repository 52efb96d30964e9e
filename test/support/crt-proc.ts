/**
 * Test side of crt-driver.js: the aws-crt transport in a child process, commanded over stdin, its
 * events collected so a test waits for them instead of sleeping.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { TransportOptions } from '../../src/transport/types';

export type CrtEvent = Record<string, unknown> & { ev: string; kind?: string; message?: string };

const DRIVER = join(__dirname, 'crt-driver.js');

export class CrtProc {
  readonly events: CrtEvent[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  private readonly child: ChildProcess;
  private readonly waiters = new Set<() => void>();
  private nextId = 1;

  constructor(opts: TransportOptions, env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(process.execPath, [DRIVER, JSON.stringify(opts)], {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let buf = '';
    this.child.stdout?.on('data', (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        this.events.push(JSON.parse(buf.slice(0, i)) as CrtEvent);
        buf = buf.slice(i + 1);
      }
      for (const w of this.waiters) w();
    });
    this.child.stderr?.on('data', (chunk: Buffer) => this.stderr.push(chunk.toString('utf8')));
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        for (const w of this.waiters) w();
        resolve({ code, signal, at: Date.now() });
      }),
    );
  }

  /** The first event (past or future) matching `pred`, after `from` events. */
  waitFor(pred: (e: CrtEvent) => boolean, timeoutMs = 30_000, from = 0): Promise<CrtEvent> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const hit = this.events.slice(from).find(pred);
        if (!hit) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve(hit);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`no matching event within ${timeoutMs} ms; events: ${JSON.stringify(this.events.slice(-10))} stderr: ${this.stderr.join('')}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  /** Run one command; resolves with its result event (ok or not). */
  async run(cmd: Record<string, unknown>, timeoutMs = 30_000): Promise<CrtEvent> {
    const id = this.nextId++;
    this.child.stdin?.write(`${JSON.stringify({ id, ...cmd })}\n`);
    return this.waitFor((e) => e.ev === 'result' && e['id'] === id, timeoutMs);
  }

  /** No more commands: the process must then exit on its own once the transport is closed. */
  endInput(): void {
    this.child.stdin?.end();
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}
