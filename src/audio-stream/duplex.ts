// Full duplex: what the application's server sends back is played into the call. Opt-in per
// stream (STREAM_PLAYBACK, or STREAM_SAMPLE_RATE for binary replies); a server written for the
// community module sees nothing of it. The protocol, both ways: docs/duplex.md.
import type { Channel } from '../channel/channel.ts';
import { decodePlayFile, resampleAll } from '../channel/playback.ts';
import type { HangupCause } from '../channel/hangup-cause.ts';
import { Resampler } from '../audio/resampler.ts';
import { messageOf } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import { switchTrue } from '../lib/switch-true.ts';
import { endianness } from 'node:os';
import type { StreamMetrics } from './metrics.ts';

/** Event subclasses of the full-duplex messages. */
export const EVENT_CLEARED = 'mod_audio_stream::cleared';
export const EVENT_MARK = 'mod_audio_stream::mark';

const LITTLE_ENDIAN = endianness() === 'LE';

/** The playback queue's levels for flow control, as shares of STREAM_PLAYBACK_MAX_MS (Asterisk's). */
const XOFF_SHARE = 0.9;
const XON_SHARE = 0.8;
/**
 * Silence sent after the last sample before a hangup after playout, so the phone's jitter buffer
 * plays that sample out before the BYE ends the call (phones hold 60 to 200 ms).
 */
export const HANGUP_DRAIN_MS = 200;

/**
 * The streaming resampler of binary replies, counting what it holds back: its filter delay (about
 * 2 ms at quality 2) means the last samples given to it come out only with the next input.
 */
class TailResampler {
  private readonly r: Resampler;
  private inTotal = 0;
  /** Output samples handed out so far. */
  outTotal = 0;

  constructor(readonly inRateHz: number, readonly outRateHz: number) {
    this.r = new Resampler(1, inRateHz, outRateHz);
  }

  /** Resamples the next input (a view, valid until the next call). */
  process(pcm: Int16Array): Int16Array {
    const out = this.r.process(pcm);
    this.inTotal += pcm.length;
    this.outTotal += out.length;
    return out;
  }

  /** Output samples of the input given so far that are still held (the filter's delay; its output started with as many of silence). */
  get held(): number {
    return Math.min(this.r.outputLatency, Math.round((this.inTotal * this.outRateHz) / this.inRateHz));
  }

  /** The held samples, exactly (silence pushed through, only what belongs to the input kept); the resampler is spent after it. */
  drain(): Int16Array {
    const held = this.held;
    if (held === 0) return new Int16Array(0);
    const out = this.r.process(new Int16Array(Math.ceil((2 * held * this.inRateHz) / this.outRateHz) + 16));
    const tail = out.subarray(0, Math.min(held, out.length));
    this.outTotal += tail.length;
    return tail;
  }

  destroy(): void {
    this.r.destroy();
  }
}

/** Something queued behind binary audio (a mark, a clip, a hangup after playout): pushed into playback once `at` samples of the resampler's output are. */
interface PendingPoint {
  at: number;
  push: () => void;
}

/** What the duplex side of a stream is set up with. */
export interface DuplexOptions {
  /** Rate of binary replies (STREAM_SAMPLE_RATE), or undefined: the stream's own rate, with STREAM_PLAYBACK. */
  sampleRateHz: number | undefined;
  /** The stream's rate, Hz. */
  streamRateHz: number;
  /** Most audio the playback queue may hold, ms (STREAM_PLAYBACK_MAX_MS). */
  maxMs: number;
  /** Send the caller's DTMF digits to the server (STREAM_DTMF). */
  dtmf: boolean;
}

/** What the duplex side uses of its stream. */
export interface DuplexHost {
  readonly channel: Channel;
  /** Sends a text message to the server (queued while connecting). */
  sendText(text: string): void;
  /** Fires a mod_audio_stream event on the channel (none once it is hung up). */
  fire(subclass: string, body: string): void;
  readonly log: Logger;
  readonly metrics: StreamMetrics;
}

/**
 * The server -> call direction of one stream: decoded streamAudio replies and raw binary replies
 * queued into the channel's playback, clearAudio, marks, hangup, flow control (xoff/xon and the
 * bound) and the caller's DTMF towards the server.
 */
export class Duplex {
  private resampler: TailResampler | undefined;
  /** Points that wait for the resampler's tail to be queued ahead of them, in order. */
  private pending: PendingPoint[] = [];
  /** An odd trailing byte of the last binary message, carried to the next (-1: none). */
  private oddByte = -1;
  private pcm = new Int16Array(0);
  private xoff = false;
  private refusing = false;
  private readonly removeClearListener: () => void;
  /** Removes the starving listener, registered while a resampler holds a tail. */
  private removeStarving: (() => void) | undefined;
  private closed = false;

  constructor(private readonly host: DuplexHost, private readonly options: DuplexOptions) {
    this.removeClearListener = host.channel.playback.onCleared((dropped) => this.onCleared(dropped));
  }

  /** True when replies are played: STREAM_PLAYBACK is true (read now, as the module reads it per reply) or STREAM_SAMPLE_RATE is set. */
  get enabled(): boolean {
    return this.options.sampleRateHz !== undefined || switchTrue(this.host.channel.getVariable('STREAM_PLAYBACK'));
  }

  /**
   * A binary reply: raw L16 little-endian mono at the binary rate, any length (an odd trailing byte
   * waits for the next message), resampled to the codec rate and appended to what is playing.
   */
  onBinary(data: Buffer | Buffer[]): void {
    if (this.closed || !this.enabled) return;
    const single = Array.isArray(data) ? undefined : data;
    const parts = single ? undefined : (data as Buffer[]);
    let bytes = this.oddByte >= 0 ? 1 : 0;
    if (single) bytes += single.length;
    else for (const p of parts!) bytes += p.length;
    const count = bytes >> 1;
    // Flow control first: what does not fit is refused before it costs a conversion.
    const inRateHz = this.binaryRateHz;
    const room = Math.max(0, Math.floor(((this.options.maxMs - this.host.channel.playback.queuedMs) * inRateHz) / 1000));
    const take = Math.min(count, room);
    const last = single ?? parts![parts!.length - 1]!;
    const odd = (bytes & 1) === 1 ? last[last.length - 1]! : -1;
    if (take > 0) {
      if (this.pcm.length < take) this.pcm = new Int16Array(Math.max(take, this.pcm.length * 2));
      const pcm = this.pcm;
      if (single && this.oddByte < 0 && LITTLE_ENDIAN) {
        // The usual case: one message of whole samples, copied as bytes (L16 little-endian is the host order).
        new Uint8Array(pcm.buffer, pcm.byteOffset, take * 2).set(single.subarray(0, take * 2));
      } else {
        this.decodeBytes(single ? [single] : parts!, take);
      }
      this.deliver(this.resample(pcm.subarray(0, take)));
    }
    this.oddByte = odd; // the byte stream stays aligned whatever was refused
    if (take < count) this.refuse(((count - take) * 1000) / inRateHz);
    else if (take > 0) this.checkXoff();
  }

  /**
   * A streamAudio reply (already written to its file by the caller): decoded in memory and queued
   * behind what is playing. mp3 and ogg are not played (an error log names the type).
   */
  async playStreamAudio(extension: string, audio: Buffer, path: string): Promise<void> {
    if (this.closed) return;
    let decoded: { samples: Int16Array; rateHz: number };
    try {
      decoded = decodePlayFile(`reply${extension}`, audio);
    } catch (err) {
      this.host.log.error(`cannot play a ${extension.slice(1)} reply: ${messageOf(err)}`);
      return;
    }
    const rateHz = this.host.channel.playback.codecRateHz;
    const samples = await resampleAll(decoded.samples, decoded.rateHz, rateHz);
    if (this.closed) return;
    const accepted = this.accept(samples, rateHz);
    if (accepted.length > 0) this.point(() => void this.host.channel.playback.enqueueAudio(accepted, rateHz, path));
  }

  /** clearAudio: barge-in. What is queued and playing is dropped; the server hears `cleared` (through onCleared). */
  clear(): void {
    if (this.closed) return;
    // Points waiting for the resampler's tail join the queue first, so the clear answers their marks in order.
    for (const p of this.pending.splice(0)) p.push();
    this.resetResampler(); // nothing of the cleared audio comes out later
    this.host.channel.playback.clear();
  }

  /** A mark: answered `played` once the audio queued before it was sent to the caller, or `cleared`. */
  mark(name: string): void {
    if (this.closed) return;
    this.point(() => this.host.channel.playback.mark((outcome) => {
      if (this.closed || this.host.channel.isHungUp) return;
      if (outcome === 'played') this.host.metrics.marksPlayed++;
      else this.host.metrics.marksCleared++;
      const body = JSON.stringify({ type: 'mark', data: { name, event: outcome } });
      this.host.sendText(body);
      this.host.fire(EVENT_MARK, body);
    }));
  }

  /**
   * The bot ends the call: now, or once what is queued has been sent (`afterPlayout`) and
   * HANGUP_DRAIN_MS of silence after it, so the phone plays the last words before the BYE.
   */
  hangup(cause: HangupCause, afterPlayout: boolean): void {
    if (this.closed) return;
    const channel = this.host.channel;
    this.host.log.info(`the server hangs up the call (${cause}${afterPlayout ? ', after playout' : ''})`);
    if (!afterPlayout) {
      channel.hangup(cause);
      return;
    }
    this.point(() => {
      const playback = channel.playback;
      if (playback.queuedMs > 0) playback.appendStream(new Int16Array(Math.round((playback.codecRateHz * HANGUP_DRAIN_MS) / 1000)));
      playback.afterPlayout(() => channel.hangup(cause));
    });
  }

  /** A DTMF digit from the caller: `{"type":"dtmf","data":{"digit":"5","durationMs":120}}` with STREAM_DTMF. */
  onDtmf(digit: string, durationMs: number): void {
    if (this.closed || !this.options.dtmf) return;
    this.host.sendText(JSON.stringify({ type: 'dtmf', data: { digit, durationMs: Math.round(durationMs) } }));
  }

  /** Every media tick (after the frame was pulled): xon once the queue has drained below 80 %. */
  onTick(): void {
    if (!this.xoff || this.host.channel.playback.queuedMs >= this.options.maxMs * XON_SHARE) return;
    this.xoff = false;
    this.refusing = false;
    this.host.sendText('{"type":"xon"}');
  }

  /** The stream ends: nothing more is queued or answered. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.removeClearListener();
    this.pending = [];
    this.resetResampler();
  }

  /** Decodes `take` L16 little-endian samples from the byte stream (the carried odd byte first) into `pcm`. */
  private decodeBytes(parts: Buffer[], take: number): void {
    const pcm = this.pcm;
    let n = 0;
    let low = this.oddByte;
    for (const p of parts) {
      for (let i = 0; i < p.length; i++) {
        const b = p[i]!;
        if (low < 0) {
          low = b;
          continue;
        }
        pcm[n++] = (b << 24 >> 16) | low; // little-endian, sign from the high byte
        low = -1;
        if (n === take) return;
      }
    }
  }

  /** The rate of binary replies: STREAM_SAMPLE_RATE, or the stream's own. */
  private get binaryRateHz(): number {
    return this.options.sampleRateHz ?? this.options.streamRateHz;
  }

  /** Binary audio at the binary rate -> the codec rate (a streaming resampler, rebuilt when the codec rate changes). */
  private resample(pcm: Int16Array): Int16Array {
    const from = this.binaryRateHz;
    const to = this.host.channel.playback.codecRateHz;
    if (from === to) return pcm;
    if (this.resampler && this.resampler.outRateHz !== to) this.flushResampler();
    if (!this.resampler) {
      this.resampler = new TailResampler(from, to);
      this.removeStarving = this.host.channel.playback.onStarving(() => this.onStarving());
    }
    return this.resampler.process(pcm);
  }

  /**
   * A mark, clip or hangup behind the binary audio: queued now, or, while the resampler still holds
   * the tail of that audio, once the tail is (with the next binary message, or when the server
   * pauses). So a mark never comes back before its audio was sent, and no silence is inserted.
   */
  private point(push: () => void): void {
    const r = this.resampler;
    const held = r ? r.held : 0;
    if (held === 0 && this.pending.length === 0) {
      push();
      return;
    }
    this.pending.push({ at: (r ? r.outTotal : 0) + held, push });
  }

  /** Resampled binary audio into the streamed segment, with the points due inside it queued at their place. */
  private deliver(out: Int16Array): void {
    const r = this.resampler;
    let pos = 0;
    if (r && this.pending.length > 0) {
      const start = r.outTotal - out.length; // output index of out[0]
      while (this.pending.length > 0 && this.pending[0]!.at <= r.outTotal) {
        const cut = Math.max(pos, Math.min(out.length, this.pending[0]!.at - start));
        this.append(out.subarray(pos, cut));
        pos = cut;
        this.pending.shift()!.push();
      }
    }
    this.append(pos === 0 ? out : out.subarray(pos));
  }

  /**
   * The playback is about to run dry (the server paused, or is late): the resampler's tail is
   * queued, contiguous with the audio before it, then the points that waited for it.
   */
  private onStarving(): void {
    if (!this.closed && this.resampler && this.resampler.held > 0) this.flushResampler();
  }

  /** The server paused (or the codec rate changed): the resampler's tail is queued, then every waiting point; the next message starts a fresh filter. */
  private flushResampler(): void {
    const r = this.resampler;
    if (!r) return;
    this.deliver(r.drain());
    for (const p of this.pending.splice(0)) p.push();
    this.resetResampler();
  }

  /** Drops the resampler and what it holds (a clear, the end). */
  private resetResampler(): void {
    this.resampler?.destroy();
    this.resampler = undefined;
    this.removeStarving?.();
    this.removeStarving = undefined;
  }

  /** Appends audio at the codec rate to the streamed segment (the bound was checked on the way in). */
  private append(samples: Int16Array): void {
    if (samples.length > 0) this.host.channel.playback.appendStream(samples);
  }

  /** A whole clip: what fits under STREAM_PLAYBACK_MAX_MS; the rest is refused. */
  private accept(samples: Int16Array, rateHz: number): Int16Array {
    const room = Math.max(0, Math.floor(((this.options.maxMs - this.host.channel.playback.queuedMs) * rateHz) / 1000));
    if (samples.length <= room) {
      this.checkXoff(samples.length, rateHz);
      return samples;
    }
    this.refuse(((samples.length - room) * 1000) / rateHz, room, rateHz);
    return samples.subarray(0, room);
  }

  /**
   * Audio over the bound: counted, logged once per burst (until the next xon), an error to the
   * server; the queue is full, so xoff if not sent yet.
   */
  private refuse(droppedMs: number, acceptedSamples = 0, rateHz = 1): void {
    const ms = Math.round(droppedMs);
    this.host.metrics.refusedMs += ms;
    if (!this.refusing) {
      this.refusing = true;
      this.host.log.warning(`the playback queue is full (${this.options.maxMs} ms): refusing the server's audio until it drains`);
    }
    this.host.sendText(JSON.stringify({ type: 'error', data: { reason: 'playback queue full', droppedMs: ms } }));
    this.checkXoff(acceptedSamples, rateHz);
  }

  /** xoff once the queue (with `comingSamples` about to join it) reaches 90 % of the bound. */
  private checkXoff(comingSamples = 0, rateHz = 1): void {
    if (this.xoff || this.host.channel.playback.queuedMs + (comingSamples * 1000) / rateHz < this.options.maxMs * XOFF_SHARE) return;
    this.xoff = true;
    this.host.metrics.xoffs++;
    this.host.sendText('{"type":"xoff"}');
  }

  private onCleared(droppedSamples: number): void {
    if (this.closed || !this.enabled || this.host.channel.isHungUp) return;
    this.host.metrics.clears++;
    const droppedMs = Math.round((droppedSamples * 1000) / this.host.channel.playback.codecRateHz);
    const body = JSON.stringify({ type: 'cleared', data: { droppedMs } });
    this.host.sendText(body);
    this.host.fire(EVENT_CLEARED, body);
  }
}
