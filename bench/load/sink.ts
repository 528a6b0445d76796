// Benchmark sink: a WebSocket server on 127.0.0.1 that only counts what it receives. Run it as a
// child process (`node --import tsx bench/load/sink.ts`, forked with an IPC channel): it sends
// { type: 'listening', port } once bound, then answers requests from the parent:
//   { type: 'cpu' }    -> { type: 'cpu', user, system, hr }   (µs, for the sink's own CPU share)
//   { type: 'legs', firstDueHrMs } -> when each leg's first frame was due (process.hrtime, ms; -1 unknown)
//   { type: 'window', on }         -> starts / stops the measuring window (arrival delays, window counts)
//   { type: 'totals' } -> { type: 'totals', ...SinkTotals }
//   { type: 'exit' }   -> closes everything and exits.
//   { type: 'echo', on }           -> --echo: starts / stops echoing; { type: 'echo' } once done
//   { type: 'echo-totals' }        -> --echo: { type: 'echo-totals', ...SinkEcho }
// A connection learns its leg from the start metadata, {"bench":1,"leg":<i>}, the first message.
// Without an IPC channel it prints the port on stdout and runs until killed.
//
// With --echo it is the duplex calls benchmark's bot (bench/load/duplex.ts): every binary message is
// sent straight back as it came (raw L16 at the stream's rate, which the route's STREAM_SAMPLE_RATE
// says), and the send of each message carrying a latency marker's onset (bench/load/marker.ts) is
// timed on process.hrtime, per leg.
import { WebSocketServer, type WebSocket } from 'ws';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { LatencyHistogram } from '../../src/lib/histogram.ts';
import { MARKER_REARM_MS, MARKER_THRESHOLD } from './marker.ts';

/** What the sink saw since it started. */
export interface SinkTotals {
  /** Connections accepted, still open, and that negotiated permessage-deflate. */
  connections: number;
  open: number;
  deflated: number;
  /** Binary (audio) and text messages received, and binary payload bytes (after inflate). */
  binaryMessages: number;
  binaryBytes: number;
  textMessages: number;
  /** Fewest and most binary messages on one connection. */
  minPerConnection: number;
  maxPerConnection: number;
  /** Close codes seen, by code. */
  closeCodes: Record<string, number>;
  /** Socket errors seen. */
  errors: number;
  /** Binary messages received during the window. */
  windowBinaryMessages: number;
  /** Delay from a message's due time (its frame's) to its arrival here, during the window, ms. */
  arriveP50Ms: number;
  arriveP99Ms: number;
  arriveMaxMs: number;
  arriveCount: number;
}

/** --echo: what the bot sent back (legs below WARM_BASE: the measured calls; the warm-up calls are counted apart). */
export interface SinkEcho {
  /** Binary messages sent back per leg (-1: no connection for it), and those of the warm-up calls. */
  echoed: number[];
  warmEchoed: number;
  /** When the bot sent each message carrying a marker's onset, per leg (process.hrtime, ms). */
  markSentHrMs: number[][];
  /** Text messages from the service by their type (xoff, xon, error, ...: none is expected). */
  textTypes: Record<string, number>;
  /** Most bytes a connection had waiting in its socket after an echo (the service reading slowly). */
  maxBufferedBytes: number;
}

interface Conn {
  binary: number;
  /** Leg index from the metadata, -1 until known. */
  leg: number;
  echoed: number;
  marks: number[];
  lastMarkAt: number;
}

const ECHO = process.argv.includes('--echo');
/** Legs from here on are the calls benchmark's warm-up calls. */
const WARM_BASE = 100000;
let echoOn = ECHO;
let maxBufferedBytes = 0;
const textTypes = new Map<string, number>();

/** True when the s16 little-endian message holds a sample over MARKER_THRESHOLD (every other sample: at 16 kHz a 1 kHz tone peaking at 24000 stays over it for 3 samples per half cycle). */
function hasMarker(data: Buffer): boolean {
  for (let i = 0; i + 1 < data.length; i += 4) {
    const v = (data[i + 1]! << 24 >> 16) | data[i]!;
    if (v > MARKER_THRESHOLD || v < -MARKER_THRESHOLD) return true;
  }
  return false;
}

/** Audio per message (STREAM_BUFFER_SIZE default): message k of a leg completes with its frame k. */
const MESSAGE_MS = 20;
let firstDueHrMs: number[] = [];
let windowOn = false;
let windowBinaryMessages = 0;
const arrive = new LatencyHistogram();
/** performance.now() + hrOffsetMs = process.hrtime in ms (the monotonic clock every process shares). */
const hrOffsetMs = Number(process.hrtime.bigint()) / 1e6 - performance.now();

const conns: Conn[] = [];
let open = 0;
let deflated = 0;
let binaryMessages = 0;
let binaryBytes = 0;
let textMessages = 0;
let errors = 0;
const closeCodes = new Map<number, number>();

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  backlog: 4096,
  perMessageDeflate: true,
  clientTracking: true,
});

wss.on('connection', (socket: WebSocket) => {
  const conn: Conn = { binary: 0, leg: -1, echoed: 0, marks: [], lastMarkAt: -Infinity };
  conns.push(conn);
  open++;
  if (socket.extensions.includes('permessage-deflate')) deflated++;
  socket.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
    if (isBinary) {
      if (echoOn) echo(socket, conn, Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data));
      const k = conn.binary++;
      binaryMessages++;
      binaryBytes += Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : (data as Buffer).length;
      if (windowOn) {
        windowBinaryMessages++;
        const first = conn.leg >= 0 ? firstDueHrMs[conn.leg] : undefined;
        if (first !== undefined && first >= 0) arrive.record(performance.now() + hrOffsetMs - (first + k * MESSAGE_MS));
      }
    } else {
      textMessages++;
      if (ECHO && conn.leg >= 0) {
        let type = '?';
        try {
          type = String((JSON.parse(data.toString()) as { type?: unknown }).type ?? '?');
        } catch {
          // not JSON
        }
        textTypes.set(type, (textTypes.get(type) ?? 0) + 1);
      }
      if (conn.leg < 0) {
        try {
          const leg = (JSON.parse(data.toString()) as { leg?: unknown }).leg;
          if (typeof leg === 'number' && Number.isInteger(leg) && leg >= 0) conn.leg = leg;
        } catch {
          // not the bench's metadata
        }
      }
    }
  });
  socket.on('error', () => { errors++; });
  socket.on('close', (code: number) => {
    open--;
    closeCodes.set(code, (closeCodes.get(code) ?? 0) + 1);
  });
});

/** The bot's reply: the message back as it came, its send timed when it carries a marker's onset. */
function echo(socket: WebSocket, conn: Conn, data: Buffer): void {
  if (socket.readyState !== socket.OPEN) return;
  const marked = hasMarker(data);
  const now = performance.now();
  socket.send(data, { binary: true, compress: false });
  conn.echoed++;
  if (marked) {
    if (now - conn.lastMarkAt > MARKER_REARM_MS) conn.marks.push(now + hrOffsetMs);
    conn.lastMarkAt = now;
  }
  if (socket.bufferedAmount > maxBufferedBytes) maxBufferedBytes = socket.bufferedAmount;
}

function echoTotals(): SinkEcho {
  const measured = conns.filter((c) => c.leg >= 0 && c.leg < WARM_BASE);
  const legs = Math.max(-1, ...measured.map((c) => c.leg)) + 1;
  const echoed = Array.from({ length: legs }, () => -1);
  const markSentHrMs = Array.from({ length: legs }, (): number[] => []);
  let warmEchoed = 0;
  for (const c of conns) {
    if (c.leg >= 0 && c.leg < WARM_BASE) {
      echoed[c.leg] = Math.max(0, echoed[c.leg]!) + c.echoed;
      markSentHrMs[c.leg]!.push(...c.marks);
    } else {
      warmEchoed += c.echoed;
    }
  }
  return { echoed, warmEchoed, markSentHrMs, textTypes: Object.fromEntries(textTypes), maxBufferedBytes };
}

function totals(): SinkTotals {
  let min = Infinity;
  let max = 0;
  for (const c of conns) {
    if (c.binary < min) min = c.binary;
    if (c.binary > max) max = c.binary;
  }
  return {
    connections: conns.length,
    open,
    deflated,
    binaryMessages,
    binaryBytes,
    textMessages,
    minPerConnection: conns.length ? min : 0,
    maxPerConnection: max,
    closeCodes: Object.fromEntries(closeCodes),
    errors,
    windowBinaryMessages,
    arriveP50Ms: arrive.percentile(50),
    arriveP99Ms: arrive.percentile(99),
    arriveMaxMs: arrive.maxMs,
    arriveCount: arrive.count,
  };
}

function shutdown(): void {
  for (const c of wss.clients) c.terminate();
  wss.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}

wss.on('listening', () => {
  const { port } = wss.address() as AddressInfo;
  if (process.send) process.send({ type: 'listening', port });
  else process.stdout.write(`sink listening on ws://127.0.0.1:${port}/\n`);
});

wss.on('error', (err) => {
  process.stderr.write(`sink: ${err.message}\n`);
  process.exit(1);
});

process.on('message', (msg: { type?: string; on?: boolean; firstDueHrMs?: number[] }) => {
  switch (msg?.type) {
    case 'echo':
      echoOn = ECHO && msg.on === true;
      process.send?.({ type: 'echo' });
      break;
    case 'echo-totals':
      process.send?.({ type: 'echo-totals', ...echoTotals() });
      break;
    case 'legs':
      firstDueHrMs = msg.firstDueHrMs ?? [];
      break;
    case 'window':
      windowOn = msg.on === true;
      if (windowOn) {
        arrive.reset();
        windowBinaryMessages = 0;
      }
      break;
    case 'cpu': {
      const { user, system } = process.cpuUsage();
      process.send?.({ type: 'cpu', user, system, hr: Number(process.hrtime.bigint() / 1000n) });
      break;
    }
    case 'totals':
      process.send?.({ type: 'totals', ...totals() });
      break;
    case 'exit':
      shutdown();
      break;
  }
});
// The parent went away: do not linger.
process.on('disconnect', shutdown);
process.on('SIGTERM', shutdown);
