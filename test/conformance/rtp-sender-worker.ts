// The RTP senders of rtp-sender.ts, in a worker thread of their own: the test process's main
// thread parses events, audio and JSON while calls run, and a late timer there would send a burst
// that FreeSWITCH (no jitter buffer) loses packets over.
import { createSocket, type Socket } from 'node:dgram';
import { parentPort } from 'node:worker_threads';
import { ulawEncode } from '../../src/codec/g711.ts';
import { testSignal } from './rtp-signal.ts';

/** The signal every call sends, as PCMU bytes (8 kHz): it loops. */
const ULAW = (() => {
  const sig = testSignal(8000 * 8);
  const out = new Uint8Array(sig.length);
  ulawEncode(sig, out);
  return out;
})();

type Command =
  | { op: 'open'; id: number; port: number; ptimeMs: number }
  | { op: 'start'; id: number; remotePort: number }
  | { op: 'close'; id: number };

const senders = new Map<number, { socket: Socket; ptimeMs: number; timer?: NodeJS.Timeout; closed: boolean }>();

function start(id: number, remotePort: number): void {
  const s = senders.get(id);
  if (!s) return;
  const perPacket = 8 * s.ptimeMs;
  const t0 = performance.now();
  let n = 0;
  const send = () => {
    if (s.closed) return;
    while (n * s.ptimeMs <= performance.now() - t0) {
      const off = (n * perPacket) % ULAW.length;
      const packet = Buffer.alloc(12 + perPacket); // dgram keeps it until sent
      packet[0] = 0x80;
      packet[1] = n === 0 ? 0x80 : 0x00;
      packet.writeUInt16BE((1000 + n) & 0xffff, 2);
      packet.writeUInt32BE((n * perPacket) >>> 0, 4);
      packet.writeUInt32BE(0x5eed1234, 8);
      packet.set(ULAW.subarray(off, off + perPacket), 12);
      s.socket.send(packet, remotePort, '127.0.0.1');
      n++;
    }
    s.timer = setTimeout(send, Math.max(1, t0 + n * s.ptimeMs - performance.now()));
  };
  send();
}

parentPort!.on('message', (c: Command) => {
  if (c.op === 'open') {
    const socket = createSocket('udp4');
    socket.on('message', () => undefined);
    socket.once('error', (err) => parentPort!.postMessage({ id: c.id, error: err.message }));
    socket.bind(c.port, '127.0.0.1', () => {
      senders.set(c.id, { socket, ptimeMs: c.ptimeMs, closed: false });
      parentPort!.postMessage({ id: c.id, ok: true });
    });
  } else if (c.op === 'start') {
    start(c.id, c.remotePort);
  } else {
    const s = senders.get(c.id);
    if (!s) return;
    s.closed = true;
    clearTimeout(s.timer);
    s.socket.close();
    senders.delete(c.id);
  }
});
