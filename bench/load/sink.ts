// Benchmark sink: a WebSocket server on 127.0.0.1 that only counts what it receives. Run it as a
// child process (`node --import tsx bench/load/sink.ts`, forked with an IPC channel): it sends
// { type: 'listening', port } once bound, then answers requests from the parent:
//   { type: 'cpu' }    -> { type: 'cpu', user, system, hr }   (µs, for the sink's own CPU share)
//   { type: 'legs', firstDueHrMs } -> when each leg's first frame was due (process.hrtime, ms; -1 unknown)
//   { type: 'window', on }         -> starts / stops the measuring window (arrival delays, window counts)
//   { type: 'totals' } -> { type: 'totals', ...SinkTotals }
//   { type: 'exit' }   -> closes everything and exits.
// A connection learns its leg from the start metadata, {"bench":1,"leg":<i>}, the first message.
// Without an IPC channel it prints the port on stdout and runs until killed.
import { WebSocketServer, type WebSocket } from 'ws';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { LatencyHistogram } from '../../src/lib/histogram.ts';

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

interface Conn {
  binary: number;
  /** Leg index from the metadata, -1 until known. */
  leg: number;
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
  const conn: Conn = { binary: 0, leg: -1 };
  conns.push(conn);
  open++;
  if (socket.extensions.includes('permessage-deflate')) deflated++;
  socket.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
    if (isBinary) {
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
