// The media workers of `serve` (media.workers), seen from the main thread. The main thread keeps
// SIP signalling, the Event Socket, HTTP and the directory of which worker has which channel; each
// new call goes to the worker with the fewest calls, which runs its media and its dialplan. Commands
// on a channel are carried to its worker; its events come back in order and are fired on the main
// bus with the main thread's Event-Sequence. A worker that dies hangs up only its own calls (BYE,
// CHANNEL_HANGUP with cause CRASH, an error line) and is replaced.
import { Worker } from 'node:worker_threads';
import type { Config } from '../config/config.ts';
import type { IncomingCall } from '../sip/dialog/call.ts';
import { callOffer, linkCall, type CallOp } from '../call/remote-call.ts';
import { FsEvent } from '../events/event.ts';
import type { RemoteChannels } from '../api/commands.ts';
import type { EslRemoteChannels, RemoteSession } from '../esl/context.ts';
import type { CallCommand } from '../esl/sendmsg.ts';
import type { HttpChannelView } from '../http/server.ts';
import { sumSnapshots, type MetricSource, type MetricsSnapshot } from '../http/metrics.ts';
import { deliverToSinks, logLevel, onLogSettings, Logger } from '../lib/logger.ts';
import { AppError } from '../lib/errors.ts';
import type { Runtime } from './runtime.ts';
import type { MainToWorker, WorkerInit, WorkerMetrics, WorkerRequest, WorkerToMain } from './worker-protocol.ts';

const log = new Logger('media-workers');

/** The even RTP ports of `min..max` split into `n` slices, one per worker (fewer when there are fewer ports). */
export function portSlices(min: number, max: number, n: number): Array<{ min: number; max: number }> {
  const first = min + (min & 1);
  const evens = first > max ? 0 : ((max - first) >> 1) + 1;
  const count = Math.max(1, Math.min(n, evens));
  const slices: Array<{ min: number; max: number }> = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    const size = Math.floor(evens / count) + (i < evens % count ? 1 : 0);
    const lo = first + 2 * at;
    slices.push({ min: lo, max: Math.min(max, lo + 2 * (size - 1) + 1) });
    at += size;
  }
  return slices;
}

/** How a worker's file is loaded: TypeScript sources through tsx (a source checkout), JavaScript as is. */
function workerScript(): string {
  const entry = new URL(import.meta.url.endsWith('.ts') ? './media-worker.ts' : './media-worker.js', import.meta.url);
  if (!entry.pathname.endsWith('.ts')) return `import(${JSON.stringify(entry.href)});`;
  const tsx = import.meta.resolve('tsx/esm/api');
  return `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); });`;
}

interface Link {
  call: IncomingCall;
  apply: (op: CallOp) => void;
}

interface DirectoryEntry {
  slot: Slot;
  name: string;
  hungUp: boolean;
  /** The headers of the channel's latest CHANNEL_* event (the crash events are made from them). */
  headers: Array<[string, string]>;
}

/** One worker's place in the pool; a replacement takes the same index and ports. */
class Slot {
  thread: Worker | undefined;
  alive = false;
  ready = false;
  readonly links = new Map<number, Link>();
  readonly uuids = new Set<string>();
  readonly pending = new Map<number, (value: unknown) => void>();
  metrics: WorkerMetrics | undefined;
  deaths = 0;
  constructor(readonly index: number, readonly ports: { min: number; max: number }) {}

  post(message: MainToWorker): void {
    if (this.alive) this.thread!.postMessage(message);
  }
}

/** Headers of an event that its bus sets (they are made again when the main thread fires one of its own). */
const BUS_HEADERS = new Set(['event-name', 'event-subclass', 'core-uuid', 'freeswitch-hostname', 'freeswitch-switchname',
  'freeswitch-ipv4', 'freeswitch-ipv6', 'event-date-local', 'event-date-gmt', 'event-date-timestamp',
  'event-calling-file', 'event-calling-function', 'event-calling-line-number', 'event-sequence']);

export class WorkerPool implements RemoteChannels, EslRemoteChannels, HttpChannelView {
  private readonly slots: Slot[];
  private readonly directory = new Map<string, DirectoryEntry>();
  private runtime: Runtime | undefined;
  private nextKey = 0;
  private nextRequest = 0;
  private closing = false;
  private removeLogFollower: (() => void) | undefined;
  /** Workers that died and were replaced, since the start. */
  restarts = 0;

  constructor(private readonly config: Config, size: number, readonly identity: { coreUuid: string; hostname: string }) {
    this.slots = portSlices(config.rtp.portMin, config.rtp.portMax, size).map((ports, i) => new Slot(i, ports));
  }

  /** Number of workers. */
  get count(): number {
    return this.slots.length;
  }

  /** Starts every worker; `runtime` is the main thread's (its bus fires the workers' events, its commands answer theirs). */
  async start(runtime: Runtime): Promise<void> {
    this.runtime = runtime;
    this.removeLogFollower = onLogSettings((level, sinks) => this.broadcast({ t: 'log-settings', level, sinks }));
    await Promise.all(this.slots.map((slot) => this.spawn(slot)));
  }

  /** Stops every worker (after hangupAll). */
  async close(): Promise<void> {
    this.closing = true;
    this.removeLogFollower?.();
    await Promise.all(this.slots.map((slot) => {
      slot.alive = false;
      return slot.thread?.terminate();
    }));
  }

  // ---- calls ----

  /** Hands a new call to the worker with the fewest calls (503 while none runs). */
  dispatch(call: IncomingCall): void {
    let best: Slot | undefined;
    for (const slot of this.slots) if (slot.ready && (!best || slot.links.size < best.links.size)) best = slot;
    if (!best) {
      call.reject(503, 'Media Workers Unavailable');
      return;
    }
    const slot = best;
    const key = ++this.nextKey;
    const apply = linkCall(key, call, (event) => {
      slot.post({ t: 'call-event', event });
      if (event.ev === 'terminated') slot.links.delete(key);
    });
    slot.links.set(key, { call, apply });
    slot.post({ t: 'call', call: callOffer(key, call) });
  }

  /** Hangs up every call of every worker and waits (at most graceMs) for their streams to close. */
  async hangupAll(cause: 'SYSTEM_SHUTDOWN' | 'MANAGER_REQUEST', graceMs = 2000): Promise<void> {
    await Promise.all(this.slots.map((slot) => this.request(slot, { op: 'hangup-all', cause, graceMs })));
  }

  /** Tests only: makes a worker throw an uncaught exception. */
  crashForTest(index: number): void {
    this.slots[index]?.post({ t: 'crash' });
  }

  /** The index of the worker that has this channel. */
  workerOf(uuid: string): number | undefined {
    return this.directory.get(uuid)?.slot.index;
  }

  // ---- RemoteChannels (API commands) ----

  get size(): number {
    return this.directory.size;
  }

  has(uuid: string): boolean {
    return this.directory.has(uuid);
  }

  async execute(uuid: string, name: string, args: string): Promise<string> {
    const entry = this.directory.get(uuid);
    const reply = entry ? await this.request(entry.slot, { op: 'api', name, args }) : undefined;
    return typeof reply === 'string' ? reply : '-ERR No such channel!\n';
  }

  async rows(): Promise<Array<Record<string, string>>> {
    const parts = await Promise.all(this.slots.map((slot) => this.request(slot, { op: 'rows' })));
    return parts.flatMap((rows) => (Array.isArray(rows) ? rows as Array<Record<string, string>> : []));
  }

  async broadcast(name: string, args: string): Promise<void>;
  async broadcast(message: MainToWorker): Promise<void>;
  async broadcast(what: string | MainToWorker, args = ''): Promise<void> {
    if (typeof what !== 'string') {
      for (const slot of this.slots) slot.post(what);
      return;
    }
    await Promise.all(this.slots.map((slot) => this.request(slot, { op: 'api', name: what, args })));
  }

  // ---- EslRemoteChannels ----

  session(uuid: string): RemoteSession | undefined {
    const entry = this.directory.get(uuid);
    if (!entry) return undefined;
    const directory = this.directory;
    return {
      remote: true, uuid, name: entry.name,
      get isHungUp() { return directory.get(uuid)?.hungUp ?? true; },
    };
  }

  async callCommand(uuid: string, command: CallCommand): Promise<string | undefined> {
    const entry = this.directory.get(uuid);
    const reply = entry ? await this.request(entry.slot, { op: 'call-command', uuid, command }) : undefined;
    return typeof reply === 'string' ? reply : undefined;
  }

  async getVariable(uuid: string, name: string): Promise<string | undefined> {
    const entry = this.directory.get(uuid);
    const value = entry ? await this.request(entry.slot, { op: 'getvar', uuid, name }) : undefined;
    return typeof value === 'string' ? value : undefined;
  }

  // ---- HttpChannelView ----

  async summaries(): Promise<Array<Record<string, unknown>>> {
    const parts = await Promise.all(this.slots.map((slot) => this.request(slot, { op: 'summaries' })));
    return parts.flatMap((list) => (Array.isArray(list) ? list as Array<Record<string, unknown>> : []));
  }

  async detail(uuid: string): Promise<Record<string, unknown> | undefined> {
    const entry = this.directory.get(uuid);
    const detail = entry ? await this.request(entry.slot, { op: 'detail', uuid }) : undefined;
    return (detail ?? undefined) as Record<string, unknown> | undefined;
  }

  /** Asks every worker for its figures (kept for `metricSource`) and sums their snapshots. */
  async metrics(): Promise<MetricsSnapshot> {
    await Promise.all(this.slots.map(async (slot) => {
      const m = await this.request(slot, { op: 'metrics' });
      slot.metrics = (m ?? undefined) as WorkerMetrics | undefined;
    }));
    return sumSnapshots(this.slots.flatMap((s) => (s.metrics ? [s.metrics.snapshot] : [])));
  }

  /** A counter of the workers (WorkerMetrics.counters) summed over them, as of the last `metrics()`. */
  total(counter: string): number {
    let sum = 0;
    for (const slot of this.slots) sum += slot.metrics?.counters[counter] ?? 0;
    return sum;
  }

  /** The per-worker families of /metrics (label `worker`), as of the last `metrics()`. */
  readonly metricSource: MetricSource = () => {
    const out: ReturnType<MetricSource> = [];
    for (const slot of this.slots) {
      const labels = { worker: String(slot.index) };
      const m = slot.metrics;
      out.push({ name: 'audio_stream_worker_up', help: 'Media workers running (1) or being replaced (0).', type: 'gauge', value: slot.ready ? 1 : 0, labels });
      out.push({ name: 'audio_stream_worker_calls', help: 'SIP calls handed to each media worker and not ended.', type: 'gauge', value: slot.links.size, labels });
      out.push({ name: 'audio_stream_worker_deaths_total', help: 'Times each media worker died (and was replaced).', type: 'counter', value: slot.deaths, labels });
      if (!m) continue;
      out.push({ name: 'audio_stream_worker_channels', help: 'Live channels of each media worker.', type: 'gauge', value: m.snapshot.channels, labels });
      out.push({ name: 'audio_stream_worker_messages_sent_total', help: 'WebSocket messages sent by each media worker.', type: 'counter', value: m.snapshot.streams.messagesSent ?? 0, labels });
      out.push({ name: 'audio_stream_worker_skipped_ticks_total', help: 'Media ticks each media worker skipped for being overloaded.', type: 'counter', value: m.counters.skippedTicks ?? 0, labels });
      out.push({ name: 'audio_stream_worker_event_loop_utilization', help: 'Share of time each media worker was busy since the last scrape (0..1).', type: 'gauge', value: Math.round(m.utilization * 1000) / 1000, labels });
      out.push({ name: 'audio_stream_worker_send_delay_p99_ms', help: 'p99 delay from a frame due to its message sent, per media worker, ms.', type: 'gauge', value: m.counters.sendDelayP99Ms ?? 0, labels });
    }
    return out;
  };

  // ---- workers ----

  private spawn(slot: Slot): Promise<void> {
    const config = this.config;
    const init: WorkerInit = {
      index: slot.index,
      config,
      ports: slot.ports,
      identity: this.identity,
      playFileBudgetBytes: Math.floor((config.tempDirBudgetMb * 1048576) / this.slots.length),
      logLevel: logLevel(),
      logSinks: 0,
    };
    const thread = new Worker(workerScript(), { eval: true, workerData: init, stdout: false, stderr: false });
    slot.thread = thread;
    slot.alive = true;
    slot.ready = false;
    return new Promise((resolve, reject) => {
      thread.on('message', (message: WorkerToMain) => {
        if (message.t === 'ready') {
          slot.ready = true;
          resolve();
          return;
        }
        this.onMessage(slot, message);
      });
      thread.on('error', (err) => {
        if (!slot.ready) reject(new AppError('STARTUP_FAILED', `media worker ${slot.index} did not start: ${err.message}`, { cause: err }));
        else log.error(`media worker ${slot.index}: uncaught ${err.stack ?? err.message}`);
      });
      thread.on('exit', (code) => {
        const wasReady = slot.ready;
        slot.alive = false;
        slot.ready = false;
        if (!wasReady) reject(new AppError('STARTUP_FAILED', `media worker ${slot.index} exited with code ${code} before it was ready`));
        if (!this.closing) this.onDeath(slot, code, wasReady);
      });
    });
  }

  private onMessage(slot: Slot, message: WorkerToMain): void {
    switch (message.t) {
      case 'call-op':
        slot.links.get(message.op.key)?.apply(message.op);
        break;
      case 'event':
        this.onEvent(slot, message.name, message.subclass, message.headers, message.body);
        break;
      case 'log':
        deliverToSinks(message.level, message.scope, message.message, message.uuid, message.site);
        break;
      case 'reply': {
        const resolve = slot.pending.get(message.id);
        slot.pending.delete(message.id);
        resolve?.(message.value);
        break;
      }
      case 'request': {
        const { id } = message;
        void this.answer(message.request).then((value) => slot.post({ t: 'reply', id, value }));
        break;
      }
    }
  }

  /** What a worker asks of the main thread: the commands of an outbound socket, a call of another worker. */
  private async answer(request: WorkerRequest): Promise<unknown> {
    const api = this.runtime!.api;
    switch (request.op) {
      case 'api': return api.execute(request.name, request.args);
      case 'console': return api.executeConsole(request.line);
      case 'call-command': return this.callCommand(request.uuid, request.command);
      case 'getvar': return this.getVariable(request.uuid, request.name);
      default: return undefined;
    }
  }

  private onEvent(slot: Slot, name: string, subclass: string | undefined, headers: Array<[string, string]>, body: string | undefined): void {
    const event = new FsEvent(name, subclass);
    event.headers.length = 0;
    for (const h of headers) event.headers.push(h);
    event.body = body;
    if (name.startsWith('CHANNEL_')) {
      const uuid = event.get('Unique-ID');
      if (uuid !== undefined) {
        if (name === 'CHANNEL_DESTROY') {
          this.directory.delete(uuid);
          slot.uuids.delete(uuid);
        } else {
          const entry = this.directory.get(uuid);
          if (entry) {
            entry.headers = headers;
            if (name === 'CHANNEL_HANGUP') entry.hungUp = true;
          } else if (name === 'CHANNEL_CREATE' || name === 'CHANNEL_STATE') {
            this.directory.set(uuid, { slot, name: event.get('Channel-Name') ?? '', hungUp: false, headers });
            slot.uuids.add(uuid);
          }
        }
      }
    }
    this.runtime!.bus.refire(event);
  }

  private request(slot: Slot, request: WorkerRequest): Promise<unknown> {
    if (!slot.alive) return Promise.resolve(undefined);
    const id = ++this.nextRequest;
    slot.post({ t: 'request', id, request });
    return new Promise((resolve) => slot.pending.set(id, resolve));
  }

  /** A worker died: its calls end (BYE, events with cause CRASH), its requests are answered empty, a new one takes its place. */
  private onDeath(slot: Slot, code: number, wasReady: boolean): void {
    slot.deaths++;
    const calls = [...slot.links.values()];
    log.error(`media worker ${slot.index} died (exit code ${code}): hanging up its ${calls.length} call(s) with cause CRASH; starting a new one`);
    for (const resolve of slot.pending.values()) resolve(undefined);
    slot.pending.clear();
    for (const uuid of [...slot.uuids]) this.crashEvents(uuid);
    slot.uuids.clear();
    slot.links.clear();
    for (const { call } of calls) {
      if (call.state === 'incoming' || call.state === 'early') call.reject(500, 'Media Worker Died');
      else call.hangup();
    }
    this.restarts++;
    // A worker that could not even start again waits before the next try, so a broken install does not spin.
    const delay = wasReady ? 0 : 5000;
    setTimeout(() => {
      if (this.closing) return;
      this.spawn(slot).catch((err: Error) => log.error(`media worker ${slot.index}: ${err.message}`));
    }, delay).unref();
  }

  /** CHANNEL_HANGUP, CHANNEL_HANGUP_COMPLETE and CHANNEL_DESTROY of a channel whose worker died. */
  private crashEvents(uuid: string): void {
    const entry = this.directory.get(uuid);
    this.directory.delete(uuid);
    if (!entry) return;
    const bus = this.runtime!.bus;
    const body = entry.headers.filter(([n]) => !BUS_HEADERS.has(n.toLowerCase()));
    for (const name of ['CHANNEL_HANGUP', 'CHANNEL_HANGUP_COMPLETE', 'CHANNEL_DESTROY']) {
      const event = bus.create(name);
      for (const [n, v] of body) event.add(n, v);
      event.set('Channel-State', name === 'CHANNEL_DESTROY' ? 'CS_DESTROY' : name === 'CHANNEL_HANGUP' ? 'CS_HANGUP' : 'CS_REPORTING');
      event.set('Channel-Call-State', 'HANGUP');
      event.set('Answer-State', 'hangup');
      event.set('Hangup-Cause', 'CRASH');
      event.set('variable_hangup_cause', 'CRASH');
      bus.fire(event);
    }
  }
}
