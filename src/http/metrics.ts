import type { ChannelRegistry } from '../channel/registry.ts';
import type { AudioStreamEngine } from '../audio-stream/engine.ts';
import { STREAM_ERROR_NUMBERS } from '../audio-stream/errors.ts';

/** Extra gauges and counters other parts register (ESL clients, SIP counters...). */
export type MetricSource = () => Array<{ name: string; help: string; type: 'gauge' | 'counter'; value: number; labels?: Record<string, string> }>;

function labelText(labels: Record<string, string> | undefined): string {
  if (!labels) return '';
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return `{${parts.join(',')}}`;
}

/** What /metrics reports of a set of channels and their streams: one thread's, or the sum over the media workers. */
export interface MetricsSnapshot {
  channels: number;
  /** Streams attached to a channel, paused ones among them, and audio queued for their callers (ms). */
  attached: number;
  paused: number;
  queuedMs: number;
  /** The engine's counters (StreamMetrics' numbers) and its error events by number. */
  streams: Record<string, number>;
  errorsByCode: Record<number, number>;
}

/** The snapshot of one registry and its engine. */
export function metricsSnapshot(channels: ChannelRegistry, streams: AudioStreamEngine): MetricsSnapshot {
  let paused = 0;
  let attached = 0;
  let queuedMs = 0;
  for (const channel of channels) {
    const s = streams.find(channel);
    if (!s) continue;
    attached++;
    if (s.isPaused) paused++;
    queuedMs += channel.playback.queuedMs;
  }
  const counters: Record<string, number> = {};
  for (const [key, value] of Object.entries(streams.metrics)) if (typeof value === 'number') counters[key] = value;
  return { channels: channels.size, attached, paused, queuedMs, streams: counters, errorsByCode: Object.fromEntries(streams.metrics.errorsByCode) };
}

/** The sum of snapshots (one per media worker). */
export function sumSnapshots(snapshots: readonly MetricsSnapshot[]): MetricsSnapshot {
  const total: MetricsSnapshot = { channels: 0, attached: 0, paused: 0, queuedMs: 0, streams: {}, errorsByCode: {} };
  for (const s of snapshots) {
    total.channels += s.channels;
    total.attached += s.attached;
    total.paused += s.paused;
    total.queuedMs += s.queuedMs;
    for (const [k, v] of Object.entries(s.streams)) total.streams[k] = (total.streams[k] ?? 0) + v;
    for (const [k, v] of Object.entries(s.errorsByCode)) total.errorsByCode[Number(k)] = (total.errorsByCode[Number(k)] ?? 0) + v;
  }
  return total;
}

/** Prometheus text exposition (format 0.0.4) of the engine's counters, built at scrape time. */
export function renderMetrics(channels: ChannelRegistry, streams: AudioStreamEngine, extra: MetricSource[] = []): string {
  return renderSnapshot(metricsSnapshot(channels, streams), extra);
}

/** The exposition of a snapshot and the extra sources. */
export function renderSnapshot(snapshot: MetricsSnapshot, extra: MetricSource[] = []): string {
  const streamMetrics = snapshot.streams; // every StreamMetrics number is there (metricsSnapshot, sumSnapshots)
  const { paused, attached, queuedMs } = snapshot;
  const lines: string[] = [];
  const family = (name: string, help: string, type: string, samples: Array<[Record<string, string> | undefined, number]>) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}${labelText(labels)} ${value}`);
  };
  family('audio_stream_channels', 'Live channels.', 'gauge', [[undefined, snapshot.channels]]);
  family('audio_stream_streams', 'Audio streams attached to channels, by state.', 'gauge', [
    [{ state: 'connecting' }, streamMetrics.connecting], [{ state: 'open' }, streamMetrics.open], [{ state: 'reconnecting' }, streamMetrics.reconnecting],
    [{ state: 'paused' }, paused], [{ state: 'attached' }, attached]]);
  family('audio_stream_streams_started_total', 'Streams started.', 'counter', [[undefined, streamMetrics.started]]);
  family('audio_stream_messages_sent_total', 'WebSocket messages sent (audio and text).', 'counter', [[undefined, streamMetrics.messagesSent]]);
  family('audio_stream_bytes_sent_total', 'WebSocket payload bytes sent.', 'counter', [[undefined, streamMetrics.bytesSent]]);
  family('audio_stream_messages_dropped_total', 'Audio messages dropped (not connected yet, or a slow server).', 'counter', [[undefined, streamMetrics.messagesDropped]]);
  const errors: Array<[Record<string, string>, number]> = [];
  for (const code of Object.values(STREAM_ERROR_NUMBERS).sort((a, b) => a - b)) errors.push([{ code: String(code) }, snapshot.errorsByCode[code] ?? 0]);
  family('audio_stream_playback_queued_ms', 'Audio queued for the callers of channels with a stream (full duplex), ms.', 'gauge', [[undefined, Math.round(queuedMs)]]);
  family('audio_stream_marks_total', 'Marks answered to the servers, by outcome.', 'counter', [
    [{ event: 'played' }, streamMetrics.marksPlayed], [{ event: 'cleared' }, streamMetrics.marksCleared]]);
  family('audio_stream_clears_total', 'Playback queues cleared (clearAudio, uuid_break, break) in full duplex.', 'counter', [[undefined, streamMetrics.clears]]);
  family('audio_stream_xoff_total', 'xoff messages sent (a playback queue reached 90 % of STREAM_PLAYBACK_MAX_MS).', 'counter', [[undefined, streamMetrics.xoffs]]);
  family('audio_stream_playback_refused_ms_total', 'Audio from servers refused over STREAM_PLAYBACK_MAX_MS, ms.', 'counter', [[undefined, Math.round(streamMetrics.refusedMs)]]);
  family('audio_stream_reconnect_attempts_total', 'Reconnect attempts made (STREAM_RECONNECT).', 'counter', [[undefined, streamMetrics.reconnectAttempts]]);
  family('audio_stream_reconnects_total', 'Streams reconnected after a loss.', 'counter', [[undefined, streamMetrics.reconnects]]);
  family('audio_stream_reconnects_exhausted_total', 'Streams whose reconnect attempts ran out (an error event followed).', 'counter', [[undefined, streamMetrics.reconnectsExhausted]]);
  family('audio_stream_reconnect_replayed_ms_total', 'Audio kept during reconnections and sent once reconnected, ms.', 'counter', [[undefined, Math.round(streamMetrics.reconnectReplayedMs)]]);
  family('audio_stream_reconnect_dropped_ms_total', 'Oldest audio dropped over STREAM_RECONNECT_BUFFER_MS, ms.', 'counter', [[undefined, Math.round(streamMetrics.reconnectDroppedMs)]]);
  family('audio_stream_ping_floods_total', 'Connections ended for a ping flood from the server (error 11).', 'counter', [[undefined, streamMetrics.pingFloods]]);
  family('audio_stream_json_events_dropped_total', 'Server text messages over stream.maxJsonEventBytes dropped (no json event).', 'counter', [[undefined, streamMetrics.jsonEventsDropped]]);
  family('audio_stream_stream_errors_total', 'mod_audio_stream::error events, by error code.', 'counter', errors);
  // Samples of one name (label sets of one metric) make one family: one HELP and TYPE line.
  const extras = new Map<string, { help: string; type: string; samples: Array<[Record<string, string> | undefined, number]> }>();
  for (const source of extra) {
    for (const m of source()) {
      const f = extras.get(m.name) ?? { help: m.help, type: m.type, samples: [] };
      f.samples.push([m.labels, m.value]);
      extras.set(m.name, f);
    }
  }
  for (const [name, f] of extras) family(name, f.help, f.type, f.samples);
  const mem = process.memoryUsage();
  const cpu = process.cpuUsage();
  family('process_resident_memory_bytes', 'Resident memory size in bytes.', 'gauge', [[undefined, mem.rss]]);
  family('process_cpu_seconds_total', 'User and system CPU time spent in seconds.', 'counter', [[undefined, (cpu.user + cpu.system) / 1e6]]);
  return `${lines.join('\n')}\n`;
}
