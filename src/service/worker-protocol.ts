// What crosses between the main thread and a media worker: control only. A call's signalling
// (CallOffer, CallEvent, CallOp), its channel's events, log lines, and requests with their replies.
// Nothing here is sent per media frame.
import type { Config } from '../config/config.ts';
import type { CallEvent, CallOffer, CallOp } from '../call/remote-call.ts';
import type { CallCommand } from '../esl/sendmsg.ts';
import type { LogLevel, LogSite } from '../lib/logger.ts';
import type { MetricsSnapshot } from '../http/metrics.ts';

/** What a worker is started with (workerData). */
export interface WorkerInit {
  index: number;
  config: Config;
  /** Its slice of the RTP ports (rtp.portMin..rtp.portMax split between the workers). */
  ports: { min: number; max: number };
  identity: { coreUuid: string; hostname: string };
  /** Its share of tempDirBudgetMb, in bytes. */
  playFileBudgetBytes: number;
  logLevel: LogLevel | 'off';
  logSinks: number;
}

/** A request of one thread to the other, answered by a WorkerReply with the same id. */
export type WorkerRequest =
  | { op: 'api'; name: string; args: string }
  | { op: 'console'; line: string }
  | { op: 'call-command'; uuid: string; command: CallCommand }
  | { op: 'getvar'; uuid: string; name: string }
  | { op: 'rows' }
  | { op: 'summaries' }
  | { op: 'detail'; uuid: string }
  | { op: 'metrics' }
  | { op: 'hangup-all'; cause: 'SYSTEM_SHUTDOWN' | 'MANAGER_REQUEST'; graceMs: number };

/** The worker's figures for /metrics: its channels' snapshot and its own counters. */
export interface WorkerMetrics {
  snapshot: MetricsSnapshot;
  counters: Record<string, number>;
  /** Event loop utilization since the last scrape (0..1). */
  utilization: number;
}

export type MainToWorker =
  | { t: 'call'; call: CallOffer }
  | { t: 'call-event'; event: CallEvent }
  | { t: 'request'; id: number; request: WorkerRequest }
  | { t: 'reply'; id: number; value: unknown }
  | { t: 'log-settings'; level: LogLevel | 'off'; sinks: number }
  /** Tests only: the worker throws an uncaught exception, as a bug would. */
  | { t: 'crash' };

export type WorkerToMain =
  | { t: 'ready' }
  | { t: 'call-op'; op: CallOp }
  | { t: 'event'; name: string; subclass: string | undefined; headers: Array<[string, string]>; body: string | undefined }
  | { t: 'log'; level: LogLevel; scope: string; message: string; uuid: string | undefined; site: LogSite }
  | { t: 'request'; id: number; request: WorkerRequest }
  | { t: 'reply'; id: number; value: unknown };
