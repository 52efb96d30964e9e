/**
 * Where a process's resident memory is: /proc/PID/status splits RSS into anonymous and file-backed
 * pages; /proc/PID/smaps_rollup adds PSS (a page shared by N processes counts 1/N), which is what a
 * process really costs when several copies of one binary run side by side.
 */
import { readFileSync } from 'node:fs';

export interface MemorySample {
  /** VmRSS. */
  rssMb: number;
  /** RssAnon: heap, stacks, V8's spaces; private to the process. */
  anonMb: number;
  /** RssFile: pages of the executable and libraries; shared, clean, reclaimable. */
  fileMb: number;
  /** Pss: RSS with each shared page divided among the processes that map it. */
  pssMb: number;
  /** Pss_File: the file-backed part of PSS. */
  pssFileMb: number;
}

function kbField(text: string, name: string): number {
  const m = new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, 'm').exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

const mb = (kb: number): number => Math.round((kb / 1024) * 10) / 10;

export function sampleMemory(pid: number): MemorySample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  return {
    rssMb: mb(kbField(status, 'VmRSS')),
    anonMb: mb(kbField(status, 'RssAnon')),
    fileMb: mb(kbField(status, 'RssFile')),
    pssMb: mb(kbField(rollup, 'Pss')),
    pssFileMb: mb(kbField(rollup, 'Pss_File')),
  };
}
