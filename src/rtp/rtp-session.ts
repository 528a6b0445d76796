// One call's RTP over one UDP socket (RTP only: RTCP on port + 1 is not served). The session owns
// no timer: the owner calls pullFrame() and sendFrame() from the process's media clock
// (src/channel/media-clock.ts), once per ptime. Strict RTP (source-latch.ts): the peer's source
// is learned at the start of media and after a change of the remote media; packets from other
// sources are dropped and counted, and we send to the learned source.
import dgram from 'node:dgram';
import { isIP, isIPv6 } from 'node:net';
import type { NegotiatedMedia } from '../sdp/negotiated-media.ts';
import type { DtmfCallback } from './dtmf.ts';
import type { PortAllocator } from './port-allocator.ts';
import { AppError } from '../lib/errors.ts';
import { RtpReceiver } from './rtp-receiver.ts';
import { RtpSender } from './rtp-sender.ts';
import { SendRing } from './send-ring.ts';
import { PROBATION, type ForeignSourceCallback, type RtpTotals, type SourceLearnedCallback } from './source-latch.ts';

/** How to open a session. */
export interface RtpSessionOptions {
  /** Local address to bind (IPv4 or IPv6 literal); its family must be the remote's. */
  address: string;
  /** A port to bind as is (the caller allocated it and gives it back), or */
  port?: number;
  /** an allocator to take an even port from, skipping ports in use; it goes back on close(). One of the two is required. */
  ports?: PortAllocator;
  /** The negotiated stream, if known at open; else updateRemote() later (an answer needs our port before the media is known). */
  media?: NegotiatedMedia;
  /** Playout delay in ms (default 60). */
  jitterDelayMs?: number;
  /** Strict RTP: consecutive packets that make a source other than the SDP's, or a new SSRC, genuine (default 4, as Asterisk's probation). */
  probation?: number;
  /** Counters shared with the other sessions of a host (packets from foreign sources). */
  totals?: RtpTotals;
  /** Called once per RFC 4733 digit, with its duration in ms. */
  onDtmf?: DtmfCallback;
  /** With `ports`: ports in use by other processes to skip before giving up (default 16). */
  bindAttempts?: number;
  /** The time source of receive stamps, ms (default performance.now): the media clock's, so that the owner's timeouts compare like with like. */
  now?: () => number;
  /** Our SSRC, first sequence number and timestamp (default random; tests set them). */
  ssrc?: number;
  initialSequenceNumber?: number;
  initialTimestamp?: number;
}

/** A snapshot of a session's counters. */
export interface RtpSessionStats {
  /** Packets accepted from the peer (audio and telephone-event). */
  received: number;
  /** Packets missing by sequence number (RFC 3550 A.3). */
  lost: number;
  /** Packets that came after their playout time. */
  late: number;
  /** Datagrams that are not RTP v2 or have inconsistent lengths. */
  malformed: number;
  /** Packets from another source than the learned one, dropped (strict RTP). */
  foreign: number;
  /** Packets dropped while learning the source (from a source that had not sent a run of consecutive packets). */
  learning: number;
  /** Packets from the learned source with another SSRC than the stream's, dropped (strays, a new SSRC before its run). */
  stray: number;
  /** Packets sent. */
  sent: number;
  /** Frames decoded from the playout buffer. */
  played: number;
  /** Frames played as silence after the stream started (loss, late packets, pauses). */
  concealed: number;
  /** Packets received twice. */
  duplicates: number;
  /** Times the playout schedule followed a stream that jumped or kept arriving late. */
  resyncs: number;
  /** RTCP packets multiplexed on the RTP port (RFC 5761), skipped. */
  rtcp: number;
  /** Packets with another payload type than the codec's or telephone-event's (CN...), skipped. */
  unknownPayloadType: number;
  /** Times the peer's SSRC changed. */
  ssrcChanges: number;
  /** Times the source was learned (start of media, after a change of the remote media, the SDP's address taking over). */
  sourcesLearned: number;
  /** RFC 4733 digits reported. */
  dtmfDigits: number;
  /** Datagrams received before the media was known (dropped). */
  beforeMedia: number;
  /** Frames not sent: direction recvonly/inactive, hold address, no port. */
  notSent: number;
  /** Send callbacks and socket errors reporting a failure. */
  sendErrors: number;
}

/** Send buffers per session: dgram reads a buffer on a later tick, so a burst of frames needs several. */
const SEND_RING = 8;

/** One UDP socket per call: receive -> parse -> DTMF or playout buffer; encode -> send to the latched source. */
export class RtpSession {
  /** Called once per RFC 4733 digit with its duration in ms (settable at any time). */
  onDtmf: DtmfCallback | undefined;
  /** Called when the peer's source is learned (settable at any time). */
  onSourceLearned: SourceLearnedCallback | undefined;
  /** Called on the first packet from each foreign source, at most NOTED_SOURCES per call (settable at any time). */
  onForeignSource: ForeignSourceCallback | undefined;
  private socket: dgram.Socket | undefined;
  private port = 0;
  private receiver: RtpReceiver | undefined;
  private sender: RtpSender | undefined;
  private readonly family: 4 | 6;
  private currentMedia: NegotiatedMedia | undefined;
  private ring: SendRing | undefined;
  private beforeMedia = 0;
  private notSent = 0;
  private sendErrors = 0;
  private closed = false;
  private readonly now: () => number;
  private readonly openedAt: number;

  /** Prepares a session; open() binds it. Throws RangeError without `port` or `ports`, or with a non-IP address. */
  constructor(private readonly options: RtpSessionOptions) {
    if (!isIP(options.address)) throw new RangeError(`RTP address must be an IP literal: ${options.address}`);
    this.now = options.now ?? (() => performance.now());
    this.openedAt = this.now();
    if (options.port === undefined && !options.ports) throw new RangeError('RtpSession needs a port or a port allocator');
    this.family = isIPv6(options.address) ? 6 : 4;
    this.onDtmf = options.onDtmf;
    if (options.media) this.updateRemote(options.media);
  }

  /** Binds the socket (`port`, or a free even port of `ports`); rejects with AppError RTP_NO_PORT or RTP_BIND. */
  async open(): Promise<void> {
    if (this.socket || this.closed) throw new Error('RtpSession.open() called twice or after close()');
    const { ports, port, address } = this.options;
    if (port !== undefined) {
      const socket = await bindSocket(this.family, port, address).catch((err: Error) => {
        throw new AppError('RTP_BIND', `cannot bind RTP on ${address}:${port}: ${err.message}`);
      });
      return this.attach(socket, port);
    }
    const attempts = Math.max(1, this.options.bindAttempts ?? 16);
    for (let i = 0; i < attempts; i++) {
      const p = ports!.allocate();
      try {
        return this.attach(await bindSocket(this.family, p, address), p);
      } catch (err) {
        ports!.release(p);
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EADDRINUSE' && code !== 'EACCES') throw new AppError('RTP_BIND', `cannot bind RTP on ${address}:${p}: ${(err as Error).message}`);
      }
    }
    throw new AppError('RTP_NO_PORT', `no bindable RTP port after ${attempts} attempts in ${ports!.portMin}..${ports!.portMax}`);
  }

  /** The bound local port (even when from an allocator); 0 before open(). */
  get localPort(): number {
    return this.port;
  }

  /** The negotiated stream in force; undefined until given. */
  get media(): NegotiatedMedia | undefined {
    return this.currentMedia;
  }

  /** Strict RTP's run length: consecutive packets that make a source other than the SDP's, or a new SSRC, genuine. */
  get probation(): number {
    return this.options.probation ?? PROBATION;
  }

  /** Our SSRC; 0 until the media is known. */
  get ssrc(): number {
    return this.sender?.ssrc ?? 0;
  }

  /** The `now()` ms of the last packet from the peer, or of the session's creation before any: the owner hangs up after timeoutSec of this. */
  get lastReceivedAt(): number {
    const last = this.receiver?.lastReceivedAt ?? -1;
    return last < 0 ? this.openedAt : last;
  }

  /** Where our packets go: the learned source, else (while learning) the SDP address; undefined until the media is known. */
  get remote(): { address: string; port: number } | undefined {
    const latch = this.receiver?.latch;
    if (latch?.latched) return { address: latch.address, port: latch.port };
    return this.currentMedia && { address: this.currentMedia.remote.address, port: this.currentMedia.remote.port };
  }

  /** One ptime of decoded audio (reused buffer: consume before the next call); silence on gaps; null until audio arrived. */
  pullFrame(): Int16Array | null {
    return this.closed || !this.receiver ? null : this.receiver.pullFrame();
  }

  /** Encodes and sends one frame (s16 at the codec's rate); false when not sent (not open, no media, recvonly/inactive, hold address). */
  sendFrame(samples: Int16Array): boolean {
    const sender = this.sender;
    if (this.closed || !sender || !this.socket) return false;
    const latch = this.receiver!.latch;
    const media = this.currentMedia!;
    const address = latch.latched ? latch.address : media.remote.address;
    const port = latch.latched ? latch.port : media.remote.port;
    if (!this.canSend(media, address, port)) {
      this.notSent++;
      sender.skipFrame();
      return false;
    }
    const slot = this.ring!.take();
    const len = sender.writePacket(samples, slot.packet, slot.payload);
    if (len === 0) {
      this.ring!.giveBack(slot);
      this.notSent++;
      return false;
    }
    try {
      this.socket.send(slot.packet, 0, len, port, address, slot.done);
    } catch {
      // dgram throws synchronously only for arguments it rejects (a hand-made media's bad port...).
      this.ring!.giveBack(slot);
      this.sendErrors++;
      return false;
    }
    return true;
  }

  /**
   * Applies a negotiated stream (first answer, re-INVITE, UPDATE): a codec/ptime change resets
   * decoder and playout buffer; a new remote address or port learns the source again (strict RTP).
   */
  updateRemote(media: NegotiatedMedia): void {
    if (this.closed) return;
    this.currentMedia = media;
    if (!this.receiver || !this.sender) {
      this.receiver = new RtpReceiver(media, { ...this.options, onDtmf: (digit, ms) => this.onDtmf?.(digit, ms) });
      const latch = this.receiver.latch;
      latch.onLearned = (address, port, signalled) => this.onSourceLearned?.(address, port, signalled);
      latch.onForeign = (address, port, last) => this.onForeignSource?.(address, port, last);
      this.sender = new RtpSender(media, this.options);
      this.ring = new SendRing(SEND_RING, this.sender.packetBytes);
      return;
    }
    this.receiver.configure(media);
    this.sender.configure(media);
    if (this.sender.packetBytes > this.ring!.packetBytes) this.ring!.resize(this.sender.packetBytes);
  }

  /** Counters of the call so far. */
  get stats(): RtpSessionStats {
    const r = this.receiver;
    const j = r?.jitterStats();
    return {
      received: r?.counters.received ?? 0, lost: r?.lost ?? 0, late: j?.late ?? 0, malformed: r?.parser.malformed ?? 0,
      foreign: r?.latch.foreign ?? 0, learning: r?.latch.learning ?? 0, stray: r?.counters.stray ?? 0,
      sent: this.sender?.sent ?? 0, played: j?.played ?? 0, concealed: j?.concealed ?? 0,
      duplicates: j?.duplicates ?? 0, resyncs: j?.resyncs ?? 0, rtcp: r?.parser.rtcp ?? 0,
      unknownPayloadType: r?.counters.unknownPayloadType ?? 0, ssrcChanges: r?.counters.ssrcChanges ?? 0,
      sourcesLearned: r?.latch.learned ?? 0, dtmfDigits: r?.dtmf.digits ?? 0, beforeMedia: this.beforeMedia,
      notSent: this.notSent, sendErrors: this.sendErrors + (this.ring?.errors ?? 0),
    };
  }

  /** Closes the socket; a port from `ports` goes back once it is closed. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.receiver?.dtmf.flush();
    const socket = this.socket;
    if (!socket) return;
    const fromAllocator = this.options.port === undefined;
    socket.close(() => {
      if (fromAllocator) this.options.ports!.release(this.port);
    });
  }

  private attach(socket: dgram.Socket, port: number): void {
    if (this.closed) {
      socket.close(() => this.options.port === undefined && this.options.ports!.release(port));
      return;
    }
    this.socket = socket;
    this.port = port;
    socket.on('message', (msg: Buffer, rinfo: dgram.RemoteInfo) => {
      if (this.closed) return;
      if (this.receiver) this.receiver.receive(msg, rinfo.address, rinfo.port, this.now());
      else this.beforeMedia++;
    });
    socket.on('error', () => {
      this.sendErrors++; // a socket error after bind (ICMP errors surface here); the call goes on
    });
  }

  private canSend(media: NegotiatedMedia, address: string, port: number): boolean {
    const d = media.direction;
    if (d === 'recvonly' || d === 'inactive' || port === 0) return false;
    if (address === '0.0.0.0' || address === '::') return false;
    return media.remote.family === this.family;
  }
}

/** Creates a UDP socket of `family` bound to address:port. */
function bindSocket(family: 4 | 6, port: number, address: string): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4' });
  return new Promise((resolve, reject) => {
    const fail = (err: Error): void => {
      socket.close();
      reject(err);
    };
    socket.once('error', fail);
    socket.bind({ port, address, exclusive: true }, () => {
      socket.off('error', fail);
      resolve(socket);
    });
  });
}
