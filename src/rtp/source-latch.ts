// Strict RTP, the defence against "RTP Bleed" (Asterisk AST-2017-005, its `strictrtp`): the
// peer's source (address, port) is learned at the start of media and again when the remote media
// changes (re-INVITE, UPDATE), and packets from any other source are dropped and counted. While
// learning, a packet from the address:port the SDP signalled (c=/m=) latches at once; any other
// source latches after a run of `probation` packets of one SSRC with consecutive sequence numbers
// (a phone behind NAT, whose packets do not come from where its SDP says). We send to the learned
// source (symmetric RTP, RFC 4961). Per-packet calls never throw and never allocate.

import { isIP, SocketAddress } from 'node:net';

/** Consecutive packets (one SSRC, sequence numbers +1 each) that make a source or an SSRC genuine: Asterisk's `probation` default. */
export const PROBATION = 4;

/** Sources followed at once while learning (a stray sender cannot break the run of the real one). */
const CANDIDATES = 4;

/** Foreign sources reported per call; the rest are counted only. */
export const NOTED_SOURCES = 8;

/** accept(): drop the packet. */
export const DROP = 0;
/** accept(): the packet is from the learned source. */
export const ACCEPT = 1;
/** accept(): the packet's source has just been learned (a new stream: its SSRC is the peer's). */
export const LEARNED = 2;
export type LatchVerdict = typeof DROP | typeof ACCEPT | typeof LEARNED;

/** Counters shared by every session of a host (the process's /metrics). */
export class RtpTotals {
  /** Packets from another source than the one their call learned, dropped. */
  foreign = 0;
}

/** Called when a source is learned: `signalled` when it is the SDP's address:port, else it sent a run of consecutive packets. */
export type SourceLearnedCallback = (address: string, port: number, signalled: boolean) => void;
/** Called on the first packet of a foreign source, for at most NOTED_SOURCES sources per call (`last` on the last one). */
export type ForeignSourceCallback = (address: string, port: number, last: boolean) => void;

/** Learns the peer's source and filters the rest. */
export class SourceLatch {
  /** Packets from another source than the learned one, dropped. */
  foreign = 0;
  /** Packets dropped while learning (their source had not completed a run). */
  learning = 0;
  /** Times a source was learned. */
  learned = 0;
  /** The learned source; meaningful when `latched`. */
  address = '';
  port = 0;
  latched = false;
  /** The learned source is the SDP's address:port (nothing may take its place until the remote media changes). */
  signalled = false;
  onLearned: SourceLearnedCallback | undefined;
  onForeign: ForeignSourceCallback | undefined;
  private expectedAddress = '';
  private expectedPort = 0;
  private readonly candAddress: string[] = new Array<string>(CANDIDATES).fill('');
  private readonly candPort = new Int32Array(CANDIDATES);
  private readonly candSsrc = new Uint32Array(CANDIDATES);
  private readonly candSeq = new Uint16Array(CANDIDATES);
  private readonly candCount = new Int32Array(CANDIDATES);
  private readonly candUsed = new Float64Array(CANDIDATES);
  private uses = 0;
  private readonly notedAddress: string[] = [];
  private readonly notedPort = new Int32Array(NOTED_SOURCES);

  /** `probation`: the run that latches a source that is not the signalled one (at least 1; default PROBATION). */
  constructor(readonly probation = PROBATION, private readonly totals?: RtpTotals) {
    if (!(Number.isInteger(probation) && probation >= 1)) throw new RangeError(`probation must be a positive integer: ${probation}`);
  }

  /** Where the SDP says the peer sends from (its c= address, normalized as the socket reports sources, and m= port; port 0 for none). */
  expect(address: string, port: number): void {
    this.expectedAddress = address;
    this.expectedPort = port;
  }

  /** Learns again (the remote media changed): until then nothing is accepted, and we send to the SDP's address. */
  relearn(): void {
    this.latched = false;
    this.signalled = false;
    this.candCount.fill(0);
  }

  /** The verdict on a valid packet from `address`:`port` with `ssrc` and sequence number `seq`. */
  accept(address: string, port: number, ssrc: number, seq: number): LatchVerdict {
    const fromExpected = port === this.expectedPort && address === this.expectedAddress;
    if (this.latched) {
      if (port === this.port && address === this.address) return ACCEPT;
      // The SDP's address:port proves the peer is there: it takes the place of a source learned from a run.
      if (fromExpected && !this.signalled) return this.latch(address, port, true);
      this.foreign++;
      if (this.totals) this.totals.foreign++;
      if (this.onForeign && this.notedAddress.length < NOTED_SOURCES) this.note(address, port);
      return DROP;
    }
    if (fromExpected) return this.latch(address, port, true);
    if (this.run(address, port, ssrc, seq) >= this.probation) return this.latch(address, port, false);
    this.learning++;
    return DROP;
  }

  /** The length of the run of consecutive packets `address`:`port` has sent with `ssrc`, this packet included. */
  private run(address: string, port: number, ssrc: number, seq: number): number {
    this.uses++;
    let slot = -1;
    for (let i = 0; i < CANDIDATES; i++) {
      if (this.candCount[i]! > 0 && this.candPort[i] === port && this.candAddress[i] === address) {
        slot = i;
        break;
      }
    }
    if (slot >= 0) {
      this.candUsed[slot] = this.uses;
      if (this.candSsrc[slot] === ssrc) {
        if (this.candSeq[slot] === seq) return this.candCount[slot]!; // a duplicate neither extends nor breaks the run
        if (this.candSeq[slot] === ((seq - 1) & 0xffff)) {
          this.candSeq[slot] = seq;
          return ++this.candCount[slot]!;
        }
      }
      this.candSsrc[slot] = ssrc;
      this.candSeq[slot] = seq;
      return (this.candCount[slot] = 1);
    }
    // A new candidate takes a free slot, else the one with the shortest run (the least recent of those).
    slot = 0;
    for (let i = 1; i < CANDIDATES; i++) {
      const c = this.candCount[i]!;
      const best = this.candCount[slot]!;
      if (c < best || (c === best && this.candUsed[i]! < this.candUsed[slot]!)) slot = i;
    }
    this.candAddress[slot] = address;
    this.candPort[slot] = port;
    this.candSsrc[slot] = ssrc;
    this.candSeq[slot] = seq;
    this.candUsed[slot] = this.uses;
    return (this.candCount[slot] = 1);
  }

  private latch(address: string, port: number, signalled: boolean): LatchVerdict {
    this.latched = true;
    this.signalled = signalled;
    this.address = address;
    this.port = port;
    this.learned++;
    this.candCount.fill(0);
    this.onLearned?.(address, port, signalled);
    return LEARNED;
  }

  /** Reports a foreign source the first time it is seen (the table is bounded: NOTED_SOURCES per call). */
  private note(address: string, port: number): void {
    const n = this.notedAddress.length;
    for (let i = 0; i < n; i++) if (this.notedPort[i] === port && this.notedAddress[i] === address) return;
    this.notedPort[n] = port;
    this.notedAddress.push(address);
    this.onForeign!(address, port, n + 1 === NOTED_SOURCES);
  }
}

/** An SDP address as a socket reports packet sources (IPv6 compressed, lower case), so that the latch compares strings. */
export function sourceForm(address: string): string {
  const family = isIP(address);
  if (family === 0) return address;
  try {
    return new SocketAddress({ address, family: family === 6 ? 'ipv6' : 'ipv4' }).address;
  } catch {
    return address;
  }
}
