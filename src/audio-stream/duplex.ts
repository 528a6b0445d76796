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
import type { StreamMetrics } from './metrics.ts';

/** Event subclasses of the full-duplex messages. */
export const EVENT_CLEARED = 'mod_audio_stream::cleared';
export const EVENT_MARK = 'mod_audio_stream::mark';

/** The playback queue's levels for flow control, as shares of STREAM_PLAYBACK_MAX_MS (Asterisk's). */
const XOFF_SHARE = 0.9;
const XON_SHARE = 0.8;

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
  private resampler: Resampler | undefined;
  /** An odd trailing byte of the last binary message, carried to the next (-1: none). */
  private oddByte = -1;
  private pcm = new Int16Array(0);
  private xoff = false;
  private refusing = false;
  private readonly removeClearListener: () => void;
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
    const parts = Array.isArray(data) ? data : [data];
    let bytes = this.oddByte >= 0 ? 1 : 0;
    for (const p of parts) bytes += p.length;
    const count = bytes >> 1;
    if (this.pcm.length < count) this.pcm = new Int16Array(Math.max(count, this.pcm.length * 2));
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
      }
    }
    this.oddByte = low;
    if (n === 0) return;
    this.queue(this.resample(pcm.subarray(0, n)));
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
    if (accepted.length > 0) void this.host.channel.playback.enqueueAudio(accepted, rateHz, path);
  }

  /** clearAudio: barge-in. What is queued and playing is dropped; the server hears `cleared` (through onCleared). */
  clear(): void {
    if (this.closed) return;
    this.host.channel.playback.clear();
  }

  /** A mark: answered `played` once the audio queued before it was sent to the caller, or `cleared`. */
  mark(name: string): void {
    if (this.closed) return;
    this.host.channel.playback.mark((outcome) => {
      if (this.closed || this.host.channel.isHungUp) return;
      if (outcome === 'played') this.host.metrics.marksPlayed++;
      else this.host.metrics.marksCleared++;
      const body = JSON.stringify({ type: 'mark', data: { name, event: outcome } });
      this.host.sendText(body);
      this.host.fire(EVENT_MARK, body);
    });
  }

  /** The bot ends the call: now, or once what is queued has been sent (`afterPlayout`). */
  hangup(cause: HangupCause, afterPlayout: boolean): void {
    if (this.closed) return;
    const channel = this.host.channel;
    this.host.log.info(`the server hangs up the call (${cause}${afterPlayout ? ', after playout' : ''})`);
    if (afterPlayout) channel.playback.afterPlayout(() => channel.hangup(cause));
    else channel.hangup(cause);
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
    this.resampler?.destroy();
    this.resampler = undefined;
  }

  /** Binary audio at the binary rate -> the codec rate (a streaming resampler, rebuilt when the codec rate changes). */
  private resample(pcm: Int16Array): Int16Array {
    const from = this.options.sampleRateHz ?? this.options.streamRateHz;
    const to = this.host.channel.playback.codecRateHz;
    if (from === to) return pcm;
    if (!this.resampler || this.resampler.outRateHz !== to) {
      this.resampler?.destroy();
      this.resampler = new Resampler(1, from, to);
    }
    return this.resampler.process(pcm);
  }

  private queue(samples: Int16Array): void {
    const accepted = this.accept(samples, this.host.channel.playback.codecRateHz);
    if (accepted.length > 0) this.host.channel.playback.appendStream(accepted);
  }

  /**
   * Flow control: what fits under STREAM_PLAYBACK_MAX_MS (the rest is refused: counted, logged once
   * per burst, an error to the server); xoff once the queue reaches 90 %.
   */
  private accept(samples: Int16Array, rateHz: number): Int16Array {
    const playback = this.host.channel.playback;
    const room = Math.max(0, Math.floor(((this.options.maxMs - playback.queuedMs) * rateHz) / 1000));
    let accepted = samples;
    if (samples.length > room) {
      accepted = samples.subarray(0, room);
      const droppedMs = Math.round(((samples.length - room) * 1000) / rateHz);
      this.host.metrics.refusedMs += droppedMs;
      if (!this.refusing) {
        this.refusing = true;
        this.host.log.warning(`the playback queue is full (${this.options.maxMs} ms): refusing the server's audio until it drains`);
      }
      this.host.sendText(JSON.stringify({ type: 'error', data: { reason: 'playback queue full', droppedMs } }));
    }
    if (!this.xoff && playback.queuedMs + (accepted.length * 1000) / rateHz >= this.options.maxMs * XOFF_SHARE) {
      this.xoff = true;
      this.host.metrics.xoffs++;
      this.host.sendText('{"type":"xoff"}');
    }
    return accepted;
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
