/**
 * `health-check`: `{"operation":"health-check","minFreeDiskPercent":10,"paths":["/","/var"],
 * "minAvailableMemoryPercent":5,"maxLoadPerCpu":4}`. With no thresholds it only proves the device
 * takes jobs (what the Device Client's health-check.sh does). Reads the kernel's numbers directly.
 * Options: `meminfoPath` (default /proc/meminfo).
 */
import { statfs, readFile } from 'node:fs/promises';
import os from 'node:os';
import type { HandlerContext, HandlerResult, JobHandler, StatusDetails } from '../../src/handlers/api';
import { isRecord, optString, tail } from '../_shared/util';

export interface HealthCheckDocument {
  operation?: string;
  minFreeDiskPercent?: number;
  /** Filesystems to check (default ["/"]). */
  paths?: string[];
  minAvailableMemoryPercent?: number;
  /** 1-minute load average divided by the number of CPUs. */
  maxLoadPerCpu?: number;
}

function validate(document: unknown): string | undefined {
  if (!isRecord(document)) return 'the job document must be an object';
  for (const k of ['minFreeDiskPercent', 'minAvailableMemoryPercent'] as const) {
    const v = document[k];
    if (v !== undefined && !(typeof v === 'number' && v >= 0 && v <= 100)) return `${k} must be a number from 0 to 100`;
  }
  const l = document.maxLoadPerCpu;
  if (l !== undefined && !(typeof l === 'number' && l > 0)) return 'maxLoadPerCpu must be a positive number';
  const p = document.paths;
  if (p !== undefined && !(Array.isArray(p) && p.length > 0 && p.every((x) => typeof x === 'string' && x.startsWith('/')))) return 'paths must be a list of absolute paths';
  return undefined;
}

async function memoryAvailablePercent(ctx: HandlerContext<unknown>): Promise<number> {
  const text = await readFile(optString(ctx.options, 'meminfoPath', '/proc/meminfo'), 'utf8');
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  const pct = (kb('MemAvailable') / kb('MemTotal')) * 100;
  return Number.isFinite(pct) ? pct : (os.freemem() / os.totalmem()) * 100;
}

async function run(ctx: HandlerContext<HealthCheckDocument>): Promise<HandlerResult> {
  const doc = ctx.document;
  const problems: string[] = [];
  const details: StatusDetails = {};
  const disks: string[] = [];
  for (const p of doc.paths ?? ['/']) {
    const s = await statfs(p);
    const free = (s.bavail / s.blocks) * 100;
    disks.push(`${p} ${free.toFixed(1)}% free`);
    if (doc.minFreeDiskPercent !== undefined && free < doc.minFreeDiskPercent) problems.push(`${p} has ${free.toFixed(1)}% free (< ${doc.minFreeDiskPercent}%)`);
  }
  details.disk = tail(disks.join(', '));
  const mem = await memoryAvailablePercent(ctx);
  details.memory = `${mem.toFixed(1)}% available`;
  if (doc.minAvailableMemoryPercent !== undefined && mem < doc.minAvailableMemoryPercent) problems.push(`memory ${mem.toFixed(1)}% available (< ${doc.minAvailableMemoryPercent}%)`);
  const load = (os.loadavg()[0] ?? 0) / Math.max(1, os.cpus().length);
  details.loadPerCpu = load.toFixed(2);
  if (doc.maxLoadPerCpu !== undefined && load > doc.maxLoadPerCpu) problems.push(`load ${load.toFixed(2)} per CPU (> ${doc.maxLoadPerCpu})`);
  if (problems.length > 0) details.reason = tail(problems.join('; '));
  return { status: problems.length === 0 ? 'SUCCEEDED' : 'FAILED', details };
}

const healthCheck: JobHandler<HealthCheckDocument> = { name: 'health-check', restartPolicy: 'rerun', timeoutSeconds: 60, validate, run };

export default healthCheck;
