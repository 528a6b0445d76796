// A tap on the UDP datagrams this process sends (RTP and SIP of a service running in the test
// process), with the performance.now() time each was handed to the socket: what went on the wire
// and when, without a packet capture. It wraps dgram.Socket.prototype.send for the process (each
// test file runs in its own process); `stop()` puts it back.
import dgram from 'node:dgram';
import { ulawDecode } from '../../src/codec/g711.ts';

/** One datagram as it was handed to the kernel. */
export interface TappedDatagram {
  /** performance.now() when send() was called, ms. */
  t: number;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  /** A copy of the bytes (senders reuse their buffers). */
  data: Buffer;
}

/** A running tap. */
export interface UdpTap {
  readonly datagrams: TappedDatagram[];
  /** Forgets what was recorded so far. */
  reset(): void;
  /** Unwraps send(). Idempotent. */
  stop(): void;
}

type SendFn = (...args: unknown[]) => unknown;

/** Starts recording every datagram sent by a socket whose local port `keep` accepts. */
export function startUdpTap(keep: (localPort: number) => boolean): UdpTap {
  const proto = dgram.Socket.prototype as unknown as { send: SendFn };
  const original = proto.send;
  const datagrams: TappedDatagram[] = [];
  proto.send = function tappedSend(this: dgram.Socket, ...args: unknown[]): unknown {
    try {
      const t = performance.now();
      const localPort = this.address().port;
      if (keep(localPort)) {
        // send(msg, offset, length, port, address, cb) or send(msg, port, address, cb).
        const msg = args[0];
        const withOffset = typeof args[1] === 'number' && typeof args[2] === 'number' && typeof args[3] === 'number';
        const bytes = Buffer.isBuffer(msg) || msg instanceof Uint8Array ? Buffer.from(msg as Uint8Array) : Buffer.from(String(msg));
        const data = withOffset ? bytes.subarray(args[1] as number, (args[1] as number) + (args[2] as number)) : bytes;
        const remotePort = (withOffset ? args[3] : args[1]) as number;
        const remoteAddress = String(withOffset ? args[4] : args[2]);
        if (typeof remotePort === 'number') datagrams.push({ t, localPort, remoteAddress, remotePort, data });
      }
    } catch {
      // An unbound socket or an unusual call form: not recorded, sent as usual.
    }
    return original.apply(this, args);
  };
  let stopped = false;
  return {
    datagrams,
    reset: () => { datagrams.length = 0; },
    stop: () => {
      if (stopped) return;
      stopped = true;
      proto.send = original;
    },
  };
}

/** One RTP packet of a tapped PCMU stream, decoded. */
export interface TappedRtp {
  t: number;
  seq: number;
  timestamp: number;
  payloadType: number;
  /** The decoded payload (s16 at 8 kHz). */
  pcm: Int16Array;
}

/** The RTP packets (version 2, PCMU payload type 0) of the tapped datagrams from `localPort`, in send order. */
export function pcmuPackets(datagrams: TappedDatagram[], localPort?: number): TappedRtp[] {
  const out: TappedRtp[] = [];
  for (const d of datagrams) {
    if (localPort !== undefined && d.localPort !== localPort) continue;
    const b = d.data;
    if (b.length < 12 || b[0]! >> 6 !== 2) continue;
    const payloadType = b[1]! & 0x7f;
    if (payloadType !== 0) continue;
    const cc = b[0]! & 0x0f;
    const payload = b.subarray(12 + 4 * cc);
    const pcm = new Int16Array(payload.length);
    ulawDecode(payload, pcm);
    out.push({ t: d.t, seq: b.readUInt16BE(2), timestamp: b.readUInt32BE(4), payloadType, pcm });
  }
  return out;
}

/** The SIP requests (by method) in the tapped datagrams, with their send times. */
export function sipRequests(datagrams: TappedDatagram[], method: string): TappedDatagram[] {
  return datagrams.filter((d) => d.data.subarray(0, method.length + 1).toString('latin1') === `${method} `);
}
