// The receive half of a call's RTP, without a socket: parse, check the source (strict RTP,
// source-latch.ts) and the SSRC, route telephone-events to the DTMF receiver and audio to the
// playout buffer, decode at pull time.
//
// SSRC: the learned source's stream keeps playing while packets of another SSRC come from the same
// source; that SSRC takes over (a phone or SBC really changed it: new playout buffer and decoder)
// once it has sent a run of `probation` packets with consecutive sequence numbers and none of the
// established SSRC came in between. A stray packet, or a second stream interleaved with the
// established one, is dropped and counted, and never empties the playout buffer.
import { createCodec, type AudioCodec } from '../codec/codec.ts';
import type { NegotiatedMedia } from '../sdp/negotiated-media.ts';
import { DtmfReceiver, type DtmfCallback } from './dtmf.ts';
import { JitterBuffer, JitterStats } from './jitter-buffer.ts';
import { frameFormatOf } from './media-format.ts';
import { RtpParser } from './packet.ts';
import { DROP, LEARNED, PROBATION, SourceLatch, sourceForm, type RtpTotals } from './source-latch.ts';

/** Receive options. */
export interface RtpReceiverOptions {
  /** Playout delay in ms (default 60). */
  jitterDelayMs?: number;
  /** Consecutive packets that make a source (other than the SDP's) or a new SSRC genuine (default PROBATION, 4). */
  probation?: number;
  /** Counters shared with the other sessions of a host. */
  totals?: RtpTotals;
  /** Called once per RFC 4733 digit. */
  onDtmf?: DtmfCallback;
}

/** Receive counters (besides the jitter buffer's and the latch's). */
export class RtpReceiveCounters {
  /** Packets accepted (audio and events). */
  received = 0;
  /** Packets with a payload type that is neither the codec's nor telephone-event's (CN, ...). */
  unknownPayloadType = 0;
  /** Times the peer's SSRC changed (each resets the playout buffer and the decoder). */
  ssrcChanges = 0;
  /** Packets from the learned source with another SSRC than the established one, dropped (strays, or a new SSRC before its run). */
  stray = 0;
}

/** One call's receive path; per-packet calls never throw. */
export class RtpReceiver {
  readonly parser = new RtpParser();
  readonly latch: SourceLatch;
  readonly counters = new RtpReceiveCounters();
  readonly dtmf: DtmfReceiver;
  /** performance.now() ms of the last accepted packet; -1 before the first. */
  lastReceivedAt = -1;
  private jitter!: JitterBuffer;
  /** Counters of playout buffers replaced by a codec change. */
  private readonly retired = new JitterStats();
  private retiredLost = 0;
  private decoder!: AudioCodec;
  private frame!: Int16Array;
  private audioPt = -1;
  private eventPt = -1;
  private rxSsrc = 0;
  private hasSsrc = false;
  /** Another SSRC from the learned source: its last sequence number and the length of its run (0: none). */
  private candidateSsrc = 0;
  private candidateSeq = 0;
  private candidateRun = 0;
  private audioStarted = false;
  private remoteAddress = '';
  private remotePort = -1;

  constructor(media: NegotiatedMedia, private readonly options: RtpReceiverOptions = {}) {
    this.latch = new SourceLatch(options.probation ?? PROBATION, options.totals);
    this.dtmf = new DtmfReceiver(options.onDtmf ?? (() => {}));
    this.configure(media);
  }

  /** Playout counters over the whole call (a snapshot). */
  jitterStats(): JitterStats {
    const out = new JitterStats();
    for (const k of Object.keys(out) as (keyof JitterStats)[]) out[k] = this.retired[k] + this.jitter.stats[k];
    return out;
  }

  /** Packets lost by sequence number over the whole call. */
  get lost(): number {
    return this.retiredLost + this.jitter.lost;
  }

  /**
   * Takes a new negotiated stream (re-INVITE): a new remote address or port learns the source
   * again; a codec or ptime change starts a new decoder and playout buffer.
   */
  configure(media: NegotiatedMedia): void {
    const remote = media.remote;
    if (remote.address !== this.remoteAddress || remote.port !== this.remotePort) {
      if (this.remotePort >= 0) this.latch.relearn();
      this.remoteAddress = remote.address;
      this.remotePort = remote.port;
      this.latch.expect(sourceForm(remote.address), remote.port);
    }
    const te = media.telephoneEvent;
    this.eventPt = te ? te.payloadType : -1;
    this.dtmf.clockRateHz = te ? te.clockRateHz : 8000;
    const c = media.codec;
    if (this.decoder && this.audioPt === c.payloadType && this.decoder.name === c.name && this.decoder.sampleRateHz === c.sampleRateHz && this.frame.length === Math.round((c.sampleRateHz * media.ptimeMs) / 1000)) {
      return;
    }
    this.audioPt = c.payloadType;
    if (this.jitter) {
      for (const k of Object.keys(this.retired) as (keyof JitterStats)[]) this.retired[k] += this.jitter.stats[k];
      this.retiredLost += this.jitter.lost;
    }
    this.decoder = createCodec(c.name, c.sampleRateHz);
    const format = frameFormatOf(media, this.decoder);
    this.frame = new Int16Array(format.samplesPerFrame);
    this.jitter = new JitterBuffer({
      frameTicks: format.frameTicks,
      ptimeMs: media.ptimeMs,
      delayMs: this.options.jitterDelayMs ?? 60,
      maxPayloadBytes: format.frameBytes * 2, // room for a peer that packs two frames per packet
      capacityFrames: Math.ceil(320 / media.ptimeMs),
    });
  }

  /** Handles one datagram from `address`:`port` received at `nowMs` (performance.now()). */
  receive(packet: Uint8Array, address: string, port: number, nowMs: number): void {
    const payload = this.parser.parse(packet);
    if (!payload) return;
    const h = this.parser.header;
    const pt = h.payloadType;
    if (pt !== this.audioPt && pt !== this.eventPt) {
      this.counters.unknownPayloadType++;
      return;
    }
    const verdict = this.latch.accept(address, port, h.ssrc, h.sequenceNumber);
    if (verdict === DROP) return;
    if (verdict === LEARNED || !this.hasSsrc) {
      // A source just learned is a new stream: its SSRC is the peer's at once.
      if (!this.hasSsrc || h.ssrc !== this.rxSsrc) this.newSource(h.ssrc);
    } else if (h.ssrc === this.rxSsrc) {
      this.candidateRun = 0; // the established stream goes on: a candidate's run is broken
    } else if (!this.ssrcRun(h.ssrc, h.sequenceNumber)) {
      this.counters.stray++;
      return;
    } else {
      this.newSource(h.ssrc);
    }
    this.counters.received++;
    this.lastReceivedAt = nowMs;
    if (pt === this.eventPt) {
      this.dtmf.receive(h.timestamp, payload);
    } else {
      this.audioStarted = true;
      this.jitter.push(h.sequenceNumber, h.timestamp, payload);
    }
  }

  /** One ptime of decoded audio (a reused buffer), silence on gaps; null until audio has been received. */
  pullFrame(): Int16Array | null {
    if (!this.audioStarted) return null;
    const frame = this.frame;
    const f = this.jitter.pop();
    const n = f ? this.decoder.decode(f.payload, frame) : 0;
    if (n < frame.length) frame.fill(0, n);
    return frame;
  }

  /** True when this packet completes a run of `probation` packets of `ssrc` with consecutive sequence numbers. */
  private ssrcRun(ssrc: number, seq: number): boolean {
    if (this.candidateRun > 0 && ssrc === this.candidateSsrc && seq === ((this.candidateSeq + 1) & 0xffff)) {
      this.candidateRun++;
    } else {
      this.candidateSsrc = ssrc;
      this.candidateRun = 1;
    }
    this.candidateSeq = seq;
    return this.candidateRun >= this.latch.probation;
  }

  private newSource(ssrc: number): void {
    this.candidateRun = 0;
    if (this.hasSsrc) {
      this.counters.ssrcChanges++;
      this.jitter.reset();
      this.decoder.reset();
      this.dtmf.flush();
      this.dtmf.reset();
    }
    this.hasSsrc = true;
    this.rxSsrc = ssrc;
  }
}
