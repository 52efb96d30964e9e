/**
 * The HandlerLogger a handler is given (`log.info(msg, fields)`) over the agent's pino logger, whose
 * argument order is the other way round (`info(fields, msg)`): passed straight through, pino would
 * take the fields for printf arguments and drop them.
 */
import type { Logger } from '../lib/log';
import type { HandlerLogger } from './api';

export function handlerLogger(log: Logger): HandlerLogger {
  const at =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (msg: string, fields?: Record<string, unknown>): void => {
      if (fields) log[level](fields, msg);
      else log[level](msg);
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
