/** One client interface for the Jobs device plane; MQTT and HTTPS implement it. */
import type {
  DescribeReq,
  ExecutionAccepted,
  GetPendingAccepted,
  JobExecution,
  NotifyMsg,
  NotifyNextMsg,
  StartNextReq,
  UpdateAccepted,
  UpdateReq,
} from './types';

export interface CallOptions {
  namespace?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface JobsApi {
  getPending(opts?: CallOptions): Promise<GetPendingAccepted>;
  startNext(req?: Omit<StartNextReq, 'clientToken'>, opts?: CallOptions): Promise<ExecutionAccepted>;
  /** `jobId` may be `$next`. Resolves with `execution` absent when nothing is pending. */
  describe(jobId: string, req?: Omit<DescribeReq, 'clientToken'>, opts?: CallOptions): Promise<ExecutionAccepted>;
  update(jobId: string, req: Omit<UpdateReq, 'clientToken'>, opts?: CallOptions): Promise<UpdateAccepted>;
  close(): Promise<void>;
}

/** Notification streams (MQTT only). Handlers return an unsubscribe function. */
export interface JobsNotifications {
  onNotify(fn: (msg: NotifyMsg, namespace: string | undefined) => void): () => void;
  onNotifyNext(fn: (msg: NotifyNextMsg, namespace: string | undefined) => void): () => void;
}

export type { JobExecution };
