// `audio-stream serve` as parts: the SIP host, the Event Socket server and the HTTP API on one
// Runtime, configured from a Config, with the metrics each part adds.
import type { Config } from '../config/config.ts';
import { SipHost } from '../call/sip-host.ts';
import { EslServer } from '../esl/server.ts';
import { HttpApi } from '../http/server.ts';
import type { MetricSource } from '../http/metrics.ts';
import { serializeJson } from '../events/serialize.ts';
import { Runtime, type RuntimeOptions } from './runtime.ts';
import { WorkerPool } from './worker-pool.ts';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { checkTempDir } from '../audio-stream/play-files.ts';
import { AppError, messageOf } from '../lib/errors.ts';

/** Why a socket could not listen, in words (the errno), or the error's message. */
function listenFailure(err: unknown): string {
  const reasons: Record<string, string> = {
    EADDRINUSE: 'address already in use',
    EACCES: 'permission denied (a port below 1024 needs privileges)',
    EPERM: 'operation not permitted',
    EADDRNOTAVAIL: 'address not available on this host',
    EAFNOSUPPORT: 'address family not supported',
  };
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return (code && reasons[code]) ?? messageOf(err);
}

/**
 * The SIP host of a runtime: every new call runs the config's routes on the runtime's dialplan, or
 * goes to a media worker of `workers`, which runs them on its own.
 */
export function createSipHost(runtime: Runtime, config: Pick<Config, 'sip' | 'rtp' | 'routes'>, uaTimers?: { T1?: number; T2?: number; T4?: number },
  workers?: WorkerPool): SipHost {
  return new SipHost({
    channels: runtime.channels,
    mediaClock: runtime.mediaClock,
    route: (channel, call) => runtime.dialplan.routeCall(channel, config.routes, call),
    workers: workers && { dispatch: (call) => workers.dispatch(call), hangupAll: (cause) => workers.hangupAll(cause, SHUTDOWN_STREAM_GRACE_MS) },
  }, config, uaTimers);
}

/** How long a shutdown waits for the media workers' streams to close, in ms. */
const SHUTDOWN_STREAM_GRACE_MS = 2000;

/** The listeners of `audio-stream serve`. */
export class Service {
  readonly sip: SipHost;
  readonly esl: EslServer;
  readonly http: HttpApi;

  /**
   * With `workers` (made with the runtime: `Service.create`), the calls run in media workers and this
   * thread keeps the listeners. Throws (before anything listens) when the HTTP settings are unsafe:
   * http.token is required off loopback.
   */
  constructor(readonly runtime: Runtime, readonly config: Config, readonly workers?: WorkerPool) {
    this.sip = createSipHost(runtime, config, undefined, workers);
    runtime.stats.limits = { maxSessions: config.sip.maxSessions, sessionsPerSecond: config.sip.sessionsPerSecond };
    if (workers) runtime.esl.remote = workers;
    this.esl = new EslServer(runtime.esl, config.esl);
    this.http = new HttpApi({
      channels: runtime.channels,
      bus: runtime.bus,
      streams: runtime.streams,
      ...config.http,
      execute: (line) => runtime.api.executeLine(line),
      eventToJson: serializeJson,
      metrics: [() => this.metrics(), ...(workers ? [workers.metricSource] : [])],
      workers,
    });
  }

  /**
   * The runtime and service of `serve` for a config: with media.workers > 0, a pool of that many
   * media workers (started by `start`) and a main-thread runtime that knows their channels.
   */
  static create(config: Config, options: Omit<RuntimeOptions, 'identity' | 'remote'> = {}): Service {
    const workers = config.media.workers > 0
      ? new WorkerPool(config, config.media.workers, { coreUuid: randomUUID(), hostname: hostname() })
      : undefined;
    const runtime = new Runtime({ ...options, identity: workers?.identity, remote: workers });
    return new Service(runtime, config, workers);
  }

  /**
   * Checks tempDir (creatable, writable, not under /proc or /sys), then starts SIP, the Event Socket
   * and HTTP in turn; on a failure, closes what started and rejects with STARTUP_FAILED, its
   * message `<key> <value>: <why>` (`sip.listen 127.0.0.1:5060: address already in use`).
   */
  async start(): Promise<void> {
    const c = this.config;
    const tempDir = checkTempDir(c.tempDir);
    if (!tempDir.ok) throw new AppError('STARTUP_FAILED', `tempDir ${c.tempDir}: ${tempDir.error.message}`);
    if (this.workers) {
      try {
        await this.workers.start(this.runtime);
      } catch (err) {
        await this.workers.close();
        throw new AppError('STARTUP_FAILED', `media.workers ${this.workers.count}: ${messageOf(err)}`, { cause: err });
      }
    }
    const listeners: Array<[string, { host: string; port: number }, () => Promise<void>]> = [
      ['sip.listen', c.sip.listen, () => this.sip.start()],
      ['esl.listen', c.esl.listen, () => this.esl.start()],
      ['http.listen', c.http.listen, () => this.http.start()],
    ];
    for (const [key, at, start] of listeners) {
      try {
        await start();
      } catch (err) {
        await Promise.allSettled([this.sip.close(), this.esl.close(), this.http.close()]);
        await this.workers?.close();
        const address = at.host.includes(':') ? `[${at.host}]:${at.port}` : `${at.host}:${at.port}`;
        throw new AppError('STARTUP_FAILED', `${key} ${address}: ${listenFailure(err)}`, { cause: err });
      }
    }
  }

  /** Hangs up every call with `cause`, waits (at most `graceMs`) for the streams to finish, closes every listener. */
  async close(cause: 'SYSTEM_SHUTDOWN' | 'MANAGER_REQUEST' = 'SYSTEM_SHUTDOWN', graceMs = 2000): Promise<void> {
    const streams = [...this.runtime.channels].map((c) => this.runtime.streams.find(c)?.finished).filter(Boolean);
    await this.sip.close(cause);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(streams), new Promise((r) => { timer = setTimeout(r, graceMs); })]);
    clearTimeout(timer);
    await Promise.allSettled([this.esl.close(), this.http.close()]);
    await this.workers?.close();
  }

  private metrics(): ReturnType<MetricSource> {
    const { mediaClock, bus } = this.runtime;
    // With media workers, the media counters are theirs (as of this scrape's metrics()), added to this thread's.
    const w = (counter: string): number => this.workers?.total(counter) ?? 0;
    return [
      { name: 'audio_stream_esl_clients', help: 'Connected Event Socket clients.', type: 'gauge', value: this.esl.clientCount },
      { name: 'audio_stream_esl_connections_refused_total', help: 'Event Socket connections refused over esl.maxConnections or esl.maxConnectionsPerSource.', type: 'counter', value: this.esl.stats.refusedConnections },
      { name: 'audio_stream_esl_login_failures_total', help: 'Event Socket logins refused (auth with a wrong password, userauth).', type: 'counter', value: this.esl.stats.loginFailures },
      { name: 'audio_stream_esl_slow_clients_dropped_total', help: 'Event Socket clients dropped for not reading their events (over esl.maxQueueBytes).', type: 'counter', value: this.esl.stats.droppedSlowClients },
      { name: 'audio_stream_http_event_clients', help: 'Connected live event stream (SSE) clients.', type: 'gauge', value: this.http.eventClients },
      { name: 'audio_stream_http_connections', help: 'Open HTTP connections.', type: 'gauge', value: this.http.stats.connections },
      { name: 'audio_stream_http_connections_refused_total', help: 'HTTP connections answered 503 over http.maxConnections or maxConnectionsPerSource.', type: 'counter', value: this.http.stats.refusedConnections },
      { name: 'audio_stream_http_forbidden_total', help: 'HTTP requests refused 403 for their Host or Origin.', type: 'counter', value: this.http.stats.forbiddenRequests },
      { name: 'audio_stream_http_event_clients_dropped_total', help: 'Live event stream clients dropped over http.maxQueueBytes unread.', type: 'counter', value: this.http.stats.droppedEventClients },
      { name: 'audio_stream_sip_messages_received_total', help: 'SIP messages received.', type: 'counter', value: this.sip.ua.stats.received },
      { name: 'audio_stream_sip_messages_malformed_total', help: 'Malformed SIP messages (answered 400 or dropped).', type: 'counter', value: this.sip.ua.stats.malformed },
      { name: 'audio_stream_play_file_bytes', help: 'Bytes of play files written and not yet deleted, all streams.', type: 'gauge', value: this.runtime.streams.playFiles.usedBytes + w('playFileBytes') },
      { name: 'audio_stream_play_files_refused_total', help: 'streamAudio replies not written: over the play-file budget, empty, or the file system did not answer in time.', type: 'counter', value: this.runtime.streams.playFiles.refused + w('playFilesRefused') },
      ...Object.entries(this.sip.ua.refusedBy).map(([limit, value]) => ({
        name: 'audio_stream_sip_calls_refused_total', help: 'New SIP calls answered 503 by admission, by the limit that refused them.',
        type: 'counter' as const, value, labels: { limit },
      })),
      { name: 'audio_stream_sip_calls_refused_no_rtp_total', help: 'New SIP calls answered 503 because no RTP port was free.', type: 'counter', value: this.sip.refusedForRtp + w('refusedForRtp') },
      { name: 'audio_stream_sip_tcp_connections', help: 'Open SIP TCP connections.', type: 'gauge', value: this.sip.ua.tcpConnections },
      { name: 'audio_stream_sip_tcp_connections_refused_total', help: 'New SIP TCP connections closed at once for being over sip.tcp.maxConnections or maxConnectionsPerSource.', type: 'counter', value: this.sip.ua.stats.tcpConnectionsRefused },
      { name: 'audio_stream_sip_tcp_header_timeouts_total', help: 'SIP TCP connections closed for taking longer than sip.tcp.headerTimeoutMs for a header block or body.', type: 'counter', value: this.sip.ua.stats.tcpHeaderTimeouts },
      { name: 'audio_stream_sip_tcp_idle_closed_total', help: 'Idle SIP TCP connections closed.', type: 'counter', value: this.sip.ua.stats.tcpIdleClosed },
      { name: 'audio_stream_rtp_foreign_packets_total', help: 'RTP packets from another source than the one their call learned (strict RTP), dropped.', type: 'counter', value: this.sip.rtpTotals.foreign + w('rtpForeign') },
      { name: 'audio_stream_media_clock_skipped_ticks_total', help: 'Media ticks skipped because the process was overloaded.', type: 'counter', value: mediaClock.skippedTicks + w('skippedTicks') },
      { name: 'audio_stream_media_clock_failures_total', help: 'Media clock members that threw (a bug; logged once per cause).', type: 'counter', value: mediaClock.failures.count + w('clockFailures') },
      { name: 'audio_stream_event_listener_failures_total', help: 'Event listeners that threw (a bug; logged once per cause).', type: 'counter', value: bus.failures.count + w('listenerFailures') },
      { name: 'audio_stream_housekeeping_failures_total', help: 'Housekeeping callbacks (heartbeats) that threw (a bug; logged once per cause).', type: 'counter', value: this.runtime.ticker.failures.count + w('housekeepingFailures') },
      { name: 'audio_stream_channel_hangup_failures_total', help: 'Hangup steps of a channel that threw (a bug; logged once per cause; the hangup completes).', type: 'counter', value: this.runtime.channels.failures.count + w('hangupFailures') },
    ];
  }
}
