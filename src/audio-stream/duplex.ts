// Full duplex: what the application's server sends back is played into the call. Opt-in per
// stream (STREAM_PLAYBACK, or STREAM_SAMPLE_RATE for binary replies); a server written for the
// community module sees nothing of it. The protocol, both ways: docs/duplex.md.
import type { Channel } from '../channel/channel.ts';
import { decodePlayFile, resampleAll } from '../channel/playback.ts';
import type { HangupCause } from '../channel/hangup-cause.ts';
import { BinaryAudio } from './binary-audio.ts';
import { messageOf } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import { switchTrue } from '../lib/switch-true.ts';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { StreamMetrics } from './metrics.ts';

/** Event subclasses of the full-duplex messages. */
export const EVENT_CLEARED = 'mod_audio_stream::cleared';
export const EVENT_MARK = 'mod_audio_stream::mark';

/** The playback queue's levels for flow control, as shares of STREAM_PLAYBACK_MAX_MS (Asterisk's). */
const XOFF_SHARE = 0.9;
const XON_SHARE = 0.8;
/**
 * Silence sent after the last sample before a hangup after playout, so the phone's jitter buffer
 * plays that sample out before the BYE ends the call (phones hold 60 to 200 ms).
 */
export const HANGUP_DRAIN_MS = 200;
/** Marks a stream may have waiting for their audio; more are refused with an error. */
export const MAX_MARKS_OUTSTANDING = 1000;
/** While audio is refused: an error at the start of the burst, then at most one per this many ms (of media time) with what was refused since. */
const REFUSAL_REPORT_MS = 1000;

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
  private readonly binary: BinaryAudio;
  /** An odd trailing byte of the last binary message, carried to the next (-1: none). */
  private oddByte = -1;
  private xoff = false;
  /** Audio is being refused (from the first refusal to the next xon). */
  private refusing = false;
  private refusedMsUnreported = 0;
  private lastRefusalReportMs = -Infinity;
  /** The last media tick's due time (ms): the clock of the refusal reports. */
  private nowMs = 0;
  private marksOutstanding = 0;
  private marksRefused = false;
  private hangupScheduled = false;
  private readonly removeClearListener: () => void;
  private closed = false;

  constructor(private readonly host: DuplexHost, private readonly options: DuplexOptions) {
    const playback = host.channel.playback;
    this.binary = new BinaryAudio(playback, options.sampleRateHz ?? options.streamRateHz);
    this.removeClearListener = playback.onCleared((dropped) => this.onCleared(dropped));
  }

  /** True when replies are played: STREAM_PLAYBACK is true (read now, as the module reads it per reply) or STREAM_SAMPLE_RATE is set. */
  get enabled(): boolean {
    return this.options.sampleRateHz !== undefined || switchTrue(this.host.channel.getVariable('STREAM_PLAYBACK'));
  }

  /**
   * A binary reply: raw L16 little-endian mono at the binary rate, any length (an odd trailing byte
   * waits for the next message), resampled to the codec rate and appended to what is playing. What
   * does not fit under the bound is refused before it costs a conversion. A message longer than a
   * slice (BINARY_SLICE_MS) is converted piece by piece between turns of the event loop: the
   * promise returned then says when it is all queued.
   */
  onBinary(data: Buffer | Buffer[]): void | Promise<void> {
    if (this.closed || !this.enabled) return;
    let bytes = Array.isArray(data) ? Buffer.concat(data) : data;
    if (this.oddByte >= 0) {
      const joined = Buffer.allocUnsafe(bytes.length + 1);
      joined[0] = this.oddByte;
      bytes.copy(joined, 1);
      bytes = joined;
    }
    this.oddByte = (bytes.length & 1) === 1 ? bytes[bytes.length - 1]! : -1; // aligned whatever is refused
    const count = bytes.length >> 1;
    if (count === 0) return;
    const inRateHz = this.binary.inRateHz;
    const take = Math.min(count, this.room(inRateHz));
    if (take < count) this.refuse(((count - take) * 1000) / inRateHz);
    if (take === 0) return;
    const slice = this.binary.sliceSamples;
    if (take <= slice) {
      this.binary.append(bytes, 0, take);
      this.checkXoff();
      return;
    }
    return this.appendSlices(bytes, take, slice);
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
    if (accepted.length === 0) return;
    this.binary.flush(); // binary audio sent before it plays whole first
    void this.host.channel.playback.enqueueAudio(accepted, rateHz, path);
  }

  /** clearAudio: barge-in. What is queued and playing is dropped; the server hears `cleared` (through onCleared). */
  clear(): void {
    if (!this.closed) this.host.channel.playback.clear();
  }

  /**
   * A mark: answered `played` once the audio queued before it was sent to the caller, or `cleared`.
   * At most MAX_MARKS_OUTSTANDING wait at a time; more are refused with an error.
   */
  mark(name: string): void {
    if (this.closed) return;
    if (this.marksOutstanding >= MAX_MARKS_OUTSTANDING) {
      if (!this.marksRefused) this.host.log.warning(`${MAX_MARKS_OUTSTANDING} marks wait for their audio: refusing more`);
      this.marksRefused = true;
      this.host.sendText(JSON.stringify({ type: 'error', data: { reason: 'too many marks', name } }));
      return;
    }
    this.marksOutstanding++;
    this.binary.mark(() => this.host.channel.playback.mark((outcome) => {
      this.marksOutstanding--;
      if (this.marksOutstanding < MAX_MARKS_OUTSTANDING / 2) this.marksRefused = false;
      if (this.closed || this.host.channel.isHungUp) return;
      if (outcome === 'played') this.host.metrics.marksPlayed++;
      else this.host.metrics.marksCleared++;
      const body = JSON.stringify({ type: 'mark', data: { name, event: outcome } });
      this.host.sendText(body);
      this.host.fire(EVENT_MARK, body);
    }));
  }

  /**
   * The bot ends the call: now, or once what is queued has been sent (`afterPlayout`) and the
   * phone has had HANGUP_DRAIN_MS of silence after the last sample to play it out before the BYE.
   * Only the first hangup after playout counts.
   */
  hangup(cause: HangupCause, afterPlayout: boolean): void {
    if (this.closed) return;
    const channel = this.host.channel;
    if (this.hangupScheduled) {
      this.host.log.debug(`hangup (${cause}) ignored: the call is already ending after playout`);
      if (!afterPlayout) channel.hangup(cause);
      return;
    }
    this.host.log.info(`the server hangs up the call (${cause}${afterPlayout ? ', after playout' : ''})`);
    if (!afterPlayout) {
      channel.hangup(cause);
      return;
    }
    this.hangupScheduled = true;
    this.afterPlayout(() => {
      const playback = channel.playback;
      const drainMs = HANGUP_DRAIN_MS - playback.msSinceAudio;
      if (drainMs < 1) {
        channel.hangup(cause);
        return;
      }
      playback.appendStream(new Int16Array(Math.round((playback.codecRateHz * drainMs) / 1000)));
      playback.afterPlayout(() => channel.hangup(cause));
    });
  }

  /** Runs `run` once everything the server sent so far has been sent to the caller (the binary audio's tail included). */
  afterPlayout(run: () => void): void {
    this.binary.flush();
    this.host.channel.playback.afterPlayout(run);
  }

  /** A DTMF digit from the caller: `{"type":"dtmf","data":{"digit":"5","durationMs":120}}` with STREAM_DTMF. */
  onDtmf(digit: string, durationMs: number): void {
    if (this.closed || !this.options.dtmf) return;
    this.host.sendText(JSON.stringify({ type: 'dtmf', data: { digit, durationMs: Math.round(durationMs) } }));
  }

  /** Every media tick (after the frame was pulled): refusals reported, and xon once the queue has drained below 80 %. */
  onTick(dueMs: number): void {
    this.nowMs = dueMs;
    if (this.refusedMsUnreported > 0 && dueMs - this.lastRefusalReportMs >= REFUSAL_REPORT_MS) this.reportRefusal();
    if (!this.xoff || this.host.channel.playback.queuedMs >= this.options.maxMs * XON_SHARE) return;
    if (this.refusedMsUnreported > 0) this.reportRefusal();
    this.xoff = false;
    this.refusing = false;
    this.host.sendText('{"type":"xon"}');
  }

  /** The stream ends: nothing more is queued or answered (what is queued plays on). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.removeClearListener();
    this.binary.close();
  }

  private async appendSlices(bytes: Buffer, take: number, slice: number): Promise<void> {
    for (let first = 0; first < take; first += slice) {
      if (this.closed) return;
      this.binary.append(bytes, first, Math.min(slice, take - first));
      this.checkXoff();
      if (first + slice < take) await yieldToLoop();
    }
  }

  /** Samples at `rateHz` that still fit under STREAM_PLAYBACK_MAX_MS. */
  private room(rateHz: number): number {
    return Math.max(0, Math.floor(((this.options.maxMs - this.host.channel.playback.queuedMs) * rateHz) / 1000));
  }

  /** A whole clip: what fits under STREAM_PLAYBACK_MAX_MS; the rest is refused. */
  private accept(samples: Int16Array, rateHz: number): Int16Array {
    const room = this.room(rateHz);
    if (samples.length <= room) {
      this.checkXoff(samples.length, rateHz);
      return samples;
    }
    this.refuse(((samples.length - room) * 1000) / rateHz);
    this.checkXoff(room, rateHz);
    return samples.subarray(0, room);
  }

  /**
   * Audio over the bound: counted, logged once per burst (until the next xon), reported to the
   * server at the start of the burst and then at most once a second with what was refused since.
   */
  private refuse(droppedMs: number): void {
    this.host.metrics.refusedMs += droppedMs;
    this.refusedMsUnreported += droppedMs;
    if (!this.refusing) {
      this.refusing = true;
      this.host.log.warning(`the playback queue is full (${this.options.maxMs} ms): refusing the server's audio until it drains`);
      this.reportRefusal();
    } else if (this.nowMs - this.lastRefusalReportMs >= REFUSAL_REPORT_MS) {
      this.reportRefusal();
    }
  }

  private reportRefusal(): void {
    const droppedMs = Math.max(1, Math.round(this.refusedMsUnreported));
    this.refusedMsUnreported = 0;
    this.lastRefusalReportMs = this.nowMs;
    this.host.sendText(JSON.stringify({ type: 'error', data: { reason: 'playback queue full', droppedMs } }));
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
