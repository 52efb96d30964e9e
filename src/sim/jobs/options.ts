/**
 * Defaults for the open questions of docs/PROTOCOL.md §10 and the device-plane error vocabulary shared by the
 * MQTT and HTTPS paths, with its one mapping to restJson1 exceptions (docs/PROTOCOL.md §3.3).
 */
import type { JobExecutionState, RejectCode } from '../../jobs/types';
import type { ServiceError, SimOptions } from '../types';

export const DEFAULT_SIM_OPTIONS: SimOptions = Object.freeze({
  throttlingStatus: 429,
  terminalUpdateCode: 'InvalidStateTransition',
  describeTerminal: 'return',
  allowRejectFromInProgress: false,
  allowTerminalFromQueued: true,
  statusDetailsMode: 'replace',
  maxStatusDetailsEntries: 10,
  mqttThingName: false,
  maxPendingListed: 10,
  unknownThingGetPending: 'empty',
  emptyPayload: 'object',
  bumpVersionOnServiceTransition: true,
  stepTimeoutOnRestart: false,
  namespaceNotifyForm: 'short',
  servicePublishPolicy: 'ignore',
  responsesToRequesterOnly: true,
  duplicateTerminalCheck: 'version-first',
  presignPlaceholders: true,
  presignedUrlStyle: 'virtual-hosted',
  statusDetailsControlChars: 'whitespace',
  answerQos: 0,
  stripNulls: false,
  defaultRolloutPerMinute: 0,
  abortCounting: 'things',
  lateTargetsWaitForWindow: true,
  inProgressOnLeave: 'REMOVED',
  templateEnabledByDefault: false,
  ownershipTokenReuse: 'until-expiry',
} satisfies SimOptions);

/** What each option accepts: its values, or any number / boolean. The compiler keeps it complete. */
const OPTION_VALUES: { readonly [K in keyof SimOptions]: readonly SimOptions[K][] | 'number' | 'boolean' } = {
  throttlingStatus: [429, 400],
  terminalUpdateCode: ['InvalidStateTransition', 'TerminalStateReached'],
  describeTerminal: ['return', 'TerminalStateReached'],
  allowRejectFromInProgress: 'boolean',
  allowTerminalFromQueued: 'boolean',
  statusDetailsMode: ['replace', 'merge'],
  maxStatusDetailsEntries: 'number',
  mqttThingName: 'boolean',
  maxPendingListed: 'number',
  unknownThingGetPending: ['empty', 'ResourceNotFound'],
  emptyPayload: ['object', 'InvalidJson'],
  bumpVersionOnServiceTransition: 'boolean',
  stepTimeoutOnRestart: 'boolean',
  namespaceNotifyForm: ['short', 'doc', 'both'],
  servicePublishPolicy: ['ignore', 'disconnect'],
  responsesToRequesterOnly: 'boolean',
  duplicateTerminalCheck: ['version-first', 'terminal-first'],
  presignPlaceholders: 'boolean',
  presignedUrlStyle: ['virtual-hosted', 'as-written'],
  statusDetailsControlChars: ['whitespace', 'strict'],
  answerQos: [0, 1],
  stripNulls: 'boolean',
  inProgressOnLeave: ['REMOVED', 'keep'],
  defaultRolloutPerMinute: 'number',
  abortCounting: ['things', 'executions'],
  lateTargetsWaitForWindow: 'boolean',
  templateEnabledByDefault: 'boolean',
  ownershipTokenReuse: ['until-expiry', 'single-use'],
};

/** Why `key=value` is not a valid option, or undefined: a typo must not silently leave the default in place. */
export function simOptionProblem(key: string, value: unknown): string | undefined {
  if (!Object.hasOwn(OPTION_VALUES, key)) return `unknown option ${JSON.stringify(key)}; known: ${Object.keys(OPTION_VALUES).join(', ')}`;
  const allowed = OPTION_VALUES[key as keyof SimOptions];
  if (allowed === 'number') return typeof value === 'number' && Number.isFinite(value) ? undefined : `${key} takes a number`;
  if (allowed === 'boolean') return typeof value === 'boolean' ? undefined : `${key} takes true or false`;
  return (allowed as readonly unknown[]).includes(value) ? undefined : `${key} takes one of ${allowed.join(', ')}`;
}

/** A device-plane refusal, transport-neutral; MQTT sends it as is, HTTPS maps it. */
export interface DevErr {
  code: RejectCode;
  message: string;
  executionState?: JobExecutionState;
}

export type DevResult<T> = { ok: true; value: T } | { ok: false; err: DevErr };

export function ok<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}

export function fail(code: RejectCode, message: string, executionState?: JobExecutionState): { ok: false; err: DevErr } {
  const err: DevErr = { code, message };
  if (executionState !== undefined) err.executionState = executionState;
  return { ok: false, err };
}

export function serviceError(name: string, status: number, message: string, executionState?: unknown): ServiceError {
  const e: ServiceError = { name, status, message };
  if (executionState !== undefined) e.executionState = executionState;
  return e;
}

/** MQTT reject code → HTTPS exception (docs/PROTOCOL.md §3.3; VersionMismatch as 409 with executionState, §10.7). */
export function toHttpError(err: DevErr, opts: SimOptions): ServiceError {
  const map = (): [string, number] => {
    switch (err.code) {
      case 'InvalidJson':
      case 'InvalidRequest':
      case 'InvalidTopic':
        return ['InvalidRequestException', 400];
      case 'ResourceNotFound':
        return ['ResourceNotFoundException', 404];
      case 'InvalidStateTransition':
      case 'VersionMismatch':
        return ['InvalidStateTransitionException', 409];
      case 'TerminalStateReached':
        return ['TerminalStateException', 410];
      case 'RequestThrottled':
        return ['ThrottlingException', opts.throttlingStatus];
      case 'InternalError':
        return ['ServiceUnavailableException', 503];
    }
  };
  const [name, status] = map();
  return serviceError(name, status, err.message, err.executionState);
}
