import { LatencyHistogram } from '../lib/histogram.ts';

/** Counters of one streaming engine (exported by /metrics and read by the benchmarks). */
export class StreamMetrics {
  /** Streams started since the engine began. */
  started = 0;
  /** Streams by connection state now. */
  connecting = 0;
  open = 0;
  /** Audio and text messages sent, and their payload bytes. */
  messagesSent = 0;
  bytesSent = 0;
  /** Audio messages dropped because the server was not connected yet or read too slowly. */
  messagesDropped = 0;
  /** Error events by their number (1..11). */
  readonly errorsByCode = new Map<number, number>();
  /** Full duplex: marks answered played / cleared, clears (clearAudio, breaks), xoff messages, audio refused over STREAM_PLAYBACK_MAX_MS (ms). */
  marksPlayed = 0;
  marksCleared = 0;
  clears = 0;
  xoffs = 0;
  refusedMs = 0;
  /** Reconnection (STREAM_RECONNECT): streams reconnecting now (gauge); attempts made; reconnections that succeeded; streams whose attempts ran out. */
  reconnecting = 0;
  reconnectAttempts = 0;
  reconnects = 0;
  reconnectsExhausted = 0;
  /** Audio captured during reconnections and sent once reconnected, and the oldest audio dropped over STREAM_RECONNECT_BUFFER_MS, ms. */
  reconnectReplayedMs = 0;
  reconnectDroppedMs = 0;
  /** Connections ended for a ping flood (error 11). */
  pingFloods = 0;
  /** Server text messages over stream.maxJsonEventBytes dropped instead of becoming a json event. */
  jsonEventsDropped = 0;
  /** Delay from a frame's due time to the send of the message it completed, in ms. */
  readonly sendDelay = new LatencyHistogram();
}
