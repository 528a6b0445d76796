import type { Peer } from './peer.ts';
import type { SipTransport } from './transport.ts';

/** Counts what goes through a transport (`sent`), whichever transport it is. */
export class CountingTransport implements SipTransport {
  onPacket: (data: Buffer, source: Peer) => void = () => {};

  constructor(private readonly inner: SipTransport, private readonly counters: { sent: number }) {
    inner.onPacket = (data, source) => this.onPacket(data, source);
  }

  start(): Promise<{ host: string; port: number }> { return this.inner.start(); }
  send(data: Buffer, dest: Peer, onError?: (err: Error) => void): void {
    this.counters.sent++;
    this.inner.send(data, dest, onError);
  }
  retain(id: number): void { this.inner.retain(id); }
  release(id: number): void { this.inner.release(id); }
  close(): Promise<void> { return this.inner.close(); }
}
