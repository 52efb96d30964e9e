/** Small helpers shared by the subcommands: usage errors, help text, flag parsing. */
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';

/** Bad usage: exit code 2 with the message and the subcommand's usage. */
export class UsageError extends Error {}

export type Options = NonNullable<ParseArgsConfig['options']>;

type Cfg<O extends Options> = { args: string[]; options: O; strict: true; allowPositionals: false };
export type Flags<O extends Options> = ReturnType<typeof parseArgs<Cfg<O>>>['values'];

export function parseFlags<O extends Options>(argv: string[], options: O): Flags<O> {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export function intFlag(name: string, v: string | undefined, min = 0, max = 65535): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name}: expected an integer ${min}..${max}, got ${JSON.stringify(v)}`);
  return n;
}

export interface Subcommand {
  name: string;
  summary: string;
  usage: string;
  run(argv: string[], io: CliIo): Promise<number>;
}

/** What a subcommand may touch of the process: streams and a way to wait for a stop signal. */
export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  /** Resolves on the first SIGINT/SIGTERM; `onSecond` runs on the next one. */
  onStopSignal(onSecond?: () => void): Promise<NodeJS.Signals>;
}
