import type { Peer } from '../../../src/sip/transport/peer.ts';
import type { SipTransport } from '../../../src/sip/transport/transport.ts';

/** A message the UA sent through a MemoryTransport. */
export interface SentMessage {
  data: Buffer;
  text: string;
  dest: Peer;
}

/**
 * An in-memory SipTransport for tests (RFC-timer tests with a FakeClock, owners' unit tests):
 * `inject` delivers bytes as if they arrived from a peer, `sent` records what the UA sent.
 */
export class MemoryTransport implements SipTransport {
  onPacket: (data: Buffer, source: Peer) => void = () => {};
  readonly sent: SentMessage[] = [];
  /** Destinations whose sends fail (simulated transport errors). */
  readonly failing = new Set<string>();
  readonly retained = new Map<number, number>();
  closed = false;

  constructor(private readonly local = { host: '127.0.0.1', port: 5060 }) {}

  start(): Promise<{ host: string; port: number }> {
    return Promise.resolve({ ...this.local });
  }

  send(data: Buffer, dest: Peer, onError?: (err: Error) => void): void {
    this.sent.push({ data, text: data.toString('utf8'), dest: { ...dest } });
    if (this.failing.has(`${dest.address}:${dest.port}`)) queueMicrotask(() => onError?.(new Error('simulated send failure')));
  }

  retain(connectionId: number): void {
    this.retained.set(connectionId, (this.retained.get(connectionId) ?? 0) + 1);
  }

  release(connectionId: number): void {
    const n = (this.retained.get(connectionId) ?? 0) - 1;
    if (n <= 0) this.retained.delete(connectionId);
    else this.retained.set(connectionId, n);
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  /** Delivers a message as if received from `source` (default udp 192.0.2.10:5062). */
  inject(message: string | Buffer, source: Peer = { transport: 'udp', address: '192.0.2.10', port: 5062 }): void {
    this.onPacket(typeof message === 'string' ? Buffer.from(message, 'utf8') : message, source);
  }

  /** Sent messages whose start line begins with `prefix` ("SIP/2.0 200", "BYE"). */
  sentStarting(prefix: string): SentMessage[] {
    return this.sent.filter((m) => m.text.startsWith(prefix));
  }
}
