// `audio-stream serve` as parts: the SIP host, the Event Socket server and the HTTP API on one
// Runtime, configured from a Config, with the metrics each part adds.
import type { Config } from '../config/config.ts';
import { SipHost } from '../call/sip-host.ts';
import { EslServer } from '../esl/server.ts';
import { HttpApi } from '../http/server.ts';
import type { MetricSource } from '../http/metrics.ts';
import { serializeJson } from '../events/serialize.ts';
import type { Runtime } from './runtime.ts';

/** The SIP host of a runtime: every new call runs the config's routes on the runtime's dialplan. */
export function createSipHost(runtime: Runtime, config: Pick<Config, 'sip' | 'rtp' | 'routes'>, uaTimers?: { T1?: number; T2?: number; T4?: number }): SipHost {
  return new SipHost({
    channels: runtime.channels,
    mediaClock: runtime.mediaClock,
    route: (channel, call) => runtime.dialplan.routeCall(channel, config.routes, call),
  }, config, uaTimers);
}

/** The listeners of `audio-stream serve`. */
export class Service {
  readonly sip: SipHost;
  readonly esl: EslServer;
  readonly http: HttpApi;

  /** Throws (before anything listens) when the HTTP settings are unsafe: http.token is required off loopback. */
  constructor(readonly runtime: Runtime, readonly config: Config) {
    this.sip = createSipHost(runtime, config);
    this.esl = new EslServer(runtime.esl, config.esl);
    this.http = new HttpApi({
      channels: runtime.channels,
      bus: runtime.bus,
      streams: runtime.streams,
      ...config.http,
      execute: (line) => runtime.api.executeLine(line),
      eventToJson: serializeJson,
      metrics: [() => this.metrics()],
    });
  }

  /** Starts SIP, the Event Socket and HTTP in turn; on a failure, closes what started and rejects naming the listener. */
  async start(): Promise<void> {
    const c = this.config;
    const listeners: Array<[string, () => Promise<void>]> = [
      [`SIP on ${c.sip.listen.host}:${c.sip.listen.port}`, () => this.sip.start()],
      [`the Event Socket on ${c.esl.listen.host}:${c.esl.listen.port}`, () => this.esl.start()],
      [`HTTP on ${c.http.listen.host}:${c.http.listen.port}`, () => this.http.start()],
    ];
    for (const [what, start] of listeners) {
      try {
        await start();
      } catch (err) {
        await Promise.allSettled([this.sip.close(), this.esl.close(), this.http.close()]);
        throw new Error(`cannot listen for ${what}: ${(err as Error).message}`);
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
  }

  private metrics(): ReturnType<MetricSource> {
    const { mediaClock, bus } = this.runtime;
    return [
      { name: 'audio_stream_esl_clients', help: 'Connected Event Socket clients.', type: 'gauge', value: this.esl.clientCount },
      { name: 'audio_stream_http_event_clients', help: 'Connected live event stream (SSE) clients.', type: 'gauge', value: this.http.eventClients },
      { name: 'audio_stream_sip_messages_received_total', help: 'SIP messages received.', type: 'counter', value: this.sip.ua.stats.received },
      { name: 'audio_stream_sip_messages_malformed_total', help: 'Malformed SIP messages (answered 400 or dropped).', type: 'counter', value: this.sip.ua.stats.malformed },
      { name: 'audio_stream_media_clock_skipped_ticks_total', help: 'Media ticks skipped because the process was overloaded.', type: 'counter', value: mediaClock.skippedTicks },
      { name: 'audio_stream_media_clock_failures_total', help: 'Media clock members that threw (a bug; logged once per cause).', type: 'counter', value: mediaClock.failures.count },
      { name: 'audio_stream_event_listener_failures_total', help: 'Event listeners that threw (a bug; logged once per cause).', type: 'counter', value: bus.failures.count },
      { name: 'audio_stream_housekeeping_failures_total', help: 'Housekeeping callbacks (heartbeats) that threw (a bug; logged once per cause).', type: 'counter', value: this.runtime.ticker.failures.count },
      { name: 'audio_stream_channel_hangup_failures_total', help: 'Hangup steps of a channel that threw (a bug; logged once per cause; the hangup completes).', type: 'counter', value: this.runtime.channels.failures.count },
    ];
  }
}
