// The caller's audio in conformance calls: a deterministic test signal sent as PCMU RTP from the
// port the SDP offered, paced by the clock (no drift), so that FreeSWITCH and audio-stream receive
// the same packets and their streams can be compared sample by sample.
import { createSocket, type Socket } from 'node:dgram';
import { ulawEncode } from '../../src/codec/g711.ts';

/** Deterministic noise-like test signal (a seeded LCG through a gentle low-pass), int16. */
export function testSignal(samples: number, seed = 12345, amplitude = 6000): Int16Array {
  const out = new Int16Array(samples);
  let state = seed >>> 0;
  let smoothed = 0;
  for (let i = 0; i < samples; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const white = (state / 0x100000000) * 2 - 1;
    smoothed = 0.6 * smoothed + 0.4 * white;
    out[i] = Math.round(smoothed * amplitude * 2);
  }
  return out;
}

/** The signal every call sends, as PCMU bytes (8 kHz): it loops. */
const SIGNAL_SECONDS = 8;
const ULAW = (() => {
  const sig = testSignal(8000 * SIGNAL_SECONDS);
  const out = new Uint8Array(sig.length);
  ulawEncode(sig, out);
  return out;
})();

export interface RtpSender {
  port: number;
  /** Starts sending to 127.0.0.1:remotePort, one packet per ptime. */
  start(remotePort: number): void;
  close(): void;
}

/** Binds `port` on loopback (RTP received there is read and dropped). */
export function openRtpSender(port: number, ptimeMs: number): Promise<RtpSender> {
  const socket: Socket = createSocket('udp4');
  socket.on('message', () => undefined);
  socket.on('error', () => undefined);
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const perPacket = 8 * ptimeMs;
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, '127.0.0.1', () => {
      resolve({
        port,
        start(remotePort: number) {
          const t0 = performance.now();
          let n = 0;
          const send = () => {
            if (closed) return;
            while (n * ptimeMs <= performance.now() - t0) {
              const off = (n * perPacket) % ULAW.length;
              const packet = Buffer.alloc(12 + perPacket); // dgram keeps it until sent
              packet[0] = 0x80;
              packet[1] = n === 0 ? 0x80 : 0x00;
              packet.writeUInt16BE((1000 + n) & 0xffff, 2);
              packet.writeUInt32BE((n * perPacket) >>> 0, 4);
              packet.writeUInt32BE(0x5eed1234, 8);
              packet.set(ULAW.subarray(off, off + perPacket), 12);
              socket.send(packet, remotePort, '127.0.0.1');
              n++;
            }
            timer = setTimeout(send, Math.max(1, t0 + n * ptimeMs - performance.now()));
          };
          send();
        },
        close() {
          closed = true;
          clearTimeout(timer);
          socket.close();
        },
      });
    });
  });
}
