import { LatencyHistogram } from '../lib/histogram.ts';

/** Process-wide counters of the streaming engine (exported by /metrics and read by the benchmark). */
export const streamMetrics = {
  /** Streams started since the process began. */
  started: 0,
  /** Streams by connection state now. */
  connecting: 0,
  open: 0,
  /** Audio and text messages sent, and their payload bytes. */
  messagesSent: 0,
  bytesSent: 0,
  /** Audio messages dropped because the server was not connected yet or read too slowly. */
  messagesDropped: 0,
  /** Error events by code. */
  errorsByCode: new Map<number, number>(),
  /** Delay from a frame's due time to the send of the message it completed, in ms. */
  sendDelay: new LatencyHistogram(),
};
