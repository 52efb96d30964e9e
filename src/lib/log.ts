/**
 * JSON logs to stdout, written synchronously so journald keeps every line even when the process
 * dies (pino docs: no worker-thread transport under systemd). Secrets and key material are
 * redacted by path wherever they appear in a log record.
 */
import pino from 'pino';

export type Logger = pino.Logger;
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

/** Field paths never written to a log (values replaced by "[redacted]"). */
export const REDACT_PATHS = [
  'pin',
  '*.pin',
  'password',
  '*.password',
  'privateKey',
  '*.privateKey',
  'privateKeyFile',
  '*.privateKeyFile',
  'keyPem',
  '*.keyPem',
  'pinFile',
  '*.pinFile',
  'authorization',
  '*.authorization',
  'headers.authorization',
];

export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go; defaults to stdout (fd 1), synchronously. */
  destination?: pino.DestinationStream;
  /** Static fields on every line. */
  base?: Record<string, unknown>;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const dest = opts.destination ?? pino.destination({ dest: 1, sync: true });
  return pino(
    {
      level: opts.level ?? 'info',
      base: opts.base ?? null,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    dest,
  );
}

/** A logger that discards everything (library default when the caller gives none). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
