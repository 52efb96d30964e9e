/** Wire shapes of the AWS IoT Jobs device plane (docs/PROTOCOL.md §2.7). Shared by the client and the sim. */

export const EXEC_STATUSES = [
  'QUEUED',
  'IN_PROGRESS',
  'SUCCEEDED',
  'FAILED',
  'TIMED_OUT',
  'REJECTED',
  'REMOVED',
  'CANCELED',
] as const;
export type ExecStatus = (typeof EXEC_STATUSES)[number];
export const DEVICE_STATUSES = ['IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'REJECTED'] as const;
export type DeviceStatus = (typeof DEVICE_STATUSES)[number];
export type Details = Record<string, string>;

export function isTerminal(s: ExecStatus): boolean {
  return s !== 'QUEUED' && s !== 'IN_PROGRESS';
}

export interface JobExecutionSummary {
  jobId: string;
  queuedAt: number;
  startedAt?: number;
  lastUpdatedAt: number;
  versionNumber: number;
  executionNumber: number;
}

export interface JobExecution extends JobExecutionSummary {
  thingName?: string;
  status: ExecStatus;
  statusDetails?: Details;
  approximateSecondsBeforeTimedOut?: number;
  /** MQTT: parsed JSON; HTTPS: the JSON text (a string). */
  jobDocument?: unknown;
}

export interface JobExecutionState {
  status: ExecStatus;
  statusDetails?: Details;
  versionNumber: number;
}

export interface GetPendingReq {
  clientToken?: string;
}
export interface GetPendingAccepted {
  clientToken?: string;
  timestamp: number;
  inProgressJobs: JobExecutionSummary[];
  queuedJobs: JobExecutionSummary[];
}
export interface StartNextReq {
  clientToken?: string;
  statusDetails?: Details;
  stepTimeoutInMinutes?: number;
}
export interface DescribeReq {
  clientToken?: string;
  executionNumber?: number;
  includeJobDocument?: boolean;
}
export interface ExecutionAccepted {
  clientToken?: string;
  timestamp: number;
  execution?: JobExecution;
}
export interface UpdateReq {
  clientToken?: string;
  status: DeviceStatus;
  statusDetails?: Details;
  expectedVersion?: number | string;
  executionNumber?: number;
  includeJobExecutionState?: boolean;
  includeJobDocument?: boolean;
  stepTimeoutInMinutes?: number;
}
export interface UpdateAccepted {
  clientToken?: string;
  timestamp: number;
  executionState?: JobExecutionState;
  jobDocument?: unknown;
}

export const REJECT_CODES = [
  'InvalidTopic',
  'InvalidJson',
  'InvalidRequest',
  'InvalidStateTransition',
  'ResourceNotFound',
  'VersionMismatch',
  'InternalError',
  'RequestThrottled',
  'TerminalStateReached',
] as const;
export type RejectCode = (typeof REJECT_CODES)[number];

export interface Rejected {
  code: RejectCode;
  message?: string;
  clientToken?: string;
  timestamp: number;
  executionState?: JobExecutionState;
}

export interface NotifyMsg {
  timestamp: number;
  jobs: Partial<Record<'QUEUED' | 'IN_PROGRESS', JobExecutionSummary[]>>;
}
export interface NotifyNextMsg {
  timestamp: number;
  execution?: JobExecution;
}

/** Limits of docs/PROTOCOL.md §7. */
export const LIMITS = {
  thingName: /^[a-zA-Z0-9:_-]{1,128}$/,
  jobId: /^[a-zA-Z0-9_-]{1,64}$/,
  namespaceId: /^[a-zA-Z0-9_-]+$/,
  detailKey: /^[a-zA-Z0-9:_-]{1,128}$/,
  detailValueMax: 1024,
  detailEntriesMax: 10,
  clientTokenMax: 64,
  jobDocumentMax: 32768,
  stepTimeoutMin: 1,
  stepTimeoutMax: 10080,
} as const;
