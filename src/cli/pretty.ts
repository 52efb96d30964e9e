/** `--log-pretty`: the agent's JSON log lines turned into one readable line each, for humans at a terminal. */
import { Writable } from 'node:stream';

const SKIP = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

export function formatLine(line: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const time = typeof rec.time === 'string' ? rec.time.slice(11, 19) : '';
  const level = String(rec.level ?? '').toUpperCase().padEnd(5);
  const fields = Object.entries(rec)
    .filter(([k]) => !SKIP.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${time} ${level} ${String(rec.msg ?? '')}${fields ? `  ${fields}` : ''}`;
}

export function prettyDestination(out: NodeJS.WritableStream): Writable {
  let buf = '';
  return new Writable({
    write(chunk: Buffer, _enc, cb): void {
      buf += chunk.toString('utf8');
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        out.write(`${formatLine(buf.slice(0, i))}\n`);
        buf = buf.slice(i + 1);
      }
      cb();
    },
  });
}
