import type { Logger } from '../lib/logger.ts';
import { messageOf } from '../lib/errors.ts';
import type { PlayFiles } from './play-files.ts';
import type { Duplex } from './duplex.ts';
import { interpretMessage, playEventBody, type InboundAction } from './stream-audio-message.ts';

/** Server messages that may wait for earlier play files to be written; more are dropped with an error log. */
export const MAX_PENDING_SERVER_MESSAGES = 256;
/** Largest text message passed on as a `json` event body, bytes (config stream.maxJsonEventBytes). */
export const DEFAULT_MAX_JSON_EVENT_BYTES = 1 << 20;

/** What the handler reports, in the order the messages came. */
export interface ServerMessageEvents {
  /** A text message that is not a well-formed streamAudio: the body of a `json` event (the text verbatim). */
  onJson(text: string): void;
  /** A streamAudio whose audio was written to its file: the body of its `play` event. */
  onPlay(body: string): void;
  /** A text message over the json event bound was dropped (its size in bytes). */
  onJsonDropped?(bytes: number): void;
}

/**
 * The application server's messages to one stream, handled strictly in order. As mod_audio_stream
 * does: a `streamAudio` becomes a play file and a `play` event, anything else (a malformed
 * streamAudio included, with an error log) a `json` event, and binary messages are ignored. With
 * full duplex on (STREAM_PLAYBACK): a streamAudio is also decoded and played, binary messages are
 * played, and clearAudio, mark and hangup act (docs/duplex.md). Decoding and file writes are
 * asynchronous, so messages wait behind them, at most MAX_PENDING_SERVER_MESSAGES.
 */
export class ServerMessageHandler {
  private chain: Promise<void> = Promise.resolve();
  private pending = 0;
  private closed = false;

  constructor(
    private readonly files: PlayFiles,
    private readonly events: ServerMessageEvents,
    private readonly log: Logger,
    /** STREAM_SUPPRESS_LOG: no log line per message (the events still fire). */
    private readonly suppressLog: boolean,
    private readonly duplex?: Duplex,
    /** Largest text message (a streamAudio aside) handled, bytes: a larger one is dropped with an error log, no event. */
    private readonly maxJsonEventBytes = DEFAULT_MAX_JSON_EVENT_BYTES,
  ) {}

  /** One binary message from the server: played in full duplex, ignored otherwise (as the module does). */
  receiveBinary(data: Buffer | Buffer[]): void {
    const duplex = this.duplex;
    if (!duplex || this.closed || !duplex.enabled) return;
    if (this.pending === 0) this.run(() => duplex.onBinary(data)); // nothing ahead of it: played at once
    else this.enqueue(() => duplex.onBinary(data)); // behind a clip, or a long message converted in slices
  }

  /** True while messages wait to be handled. */
  get busy(): boolean {
    return this.pending > 0;
  }

  /** One text message from the server. */
  receive(text: string): void {
    if (!this.suppressLog) this.log.debug(`response: ${text.length > 1000 ? `${text.slice(0, 1000)}...` : text}`);
    if (this.pending === 0) this.run(() => this.handle(text));
    else this.enqueue(() => this.handle(text));
  }

  /** Work with nothing ahead of it runs now; when it turns asynchronous (a clip, a long binary message), what follows waits behind it. */
  private run(work: () => void | Promise<void>): void {
    let result: void | Promise<void>;
    try {
      result = work();
    } catch (err) {
      this.log.error(`processMessage - ${messageOf(err)}`);
      return;
    }
    if (!result) return;
    this.pending++;
    this.chain = result
      .catch((err: unknown) => this.log.error(`processMessage - ${messageOf(err)}`))
      .finally(() => { this.pending--; });
  }

  private enqueue(work: () => void | Promise<void>): void {
    if (this.pending >= MAX_PENDING_SERVER_MESSAGES) {
      this.log.error(`processMessage - ${MAX_PENDING_SERVER_MESSAGES} server messages still waiting for their files: message dropped`);
      return;
    }
    this.pending++;
    this.chain = this.chain
      .then(work)
      .catch((err: unknown) => this.log.error(`processMessage - ${messageOf(err)}`))
      .finally(() => { this.pending--; });
  }

  /** After stop or hangup: messages still waiting are dropped, as the module ignores them. Idempotent. */
  close(): void {
    this.closed = true;
  }

  /** Resolves once every message received so far is handled or dropped. */
  settled(): Promise<void> {
    return this.chain;
  }

  /** One text message: acted on at once, or (a streamAudio) a promise of its file and its playback. */
  private handle(text: string): void | Promise<void> {
    if (this.closed) return;
    const action = interpretMessage(text);
    // Only a streamAudio may be larger (its audio goes to a file); anything else would be a huge event body.
    if (action.kind !== 'play' && text.length > this.maxJsonEventBytes / 3 && this.tooLarge(text)) return;
    const duplex = this.duplex?.enabled ? this.duplex : undefined;
    if (action.kind === 'json' || (action.kind !== 'play' && !duplex)) {
      // A malformed duplex message is logged only in full duplex: otherwise it is any json, as for the module.
      if (action.kind === 'json' && action.error && (duplex || !action.duplex)) this.log.error(`processMessage - ${action.error}`);
      this.events.onJson(text);
      return;
    }
    if (action.kind === 'clear') return duplex!.clear();
    if (action.kind === 'mark') return duplex!.mark(action.name);
    if (action.kind === 'hangup') return duplex!.hangup(action.cause, action.afterPlayout);
    return this.play(action, duplex, text);
  }

  /** True (with the error log and the count) when `text` is over the json event bound. */
  private tooLarge(text: string): boolean {
    const bytes = Buffer.byteLength(text);
    if (bytes <= this.maxJsonEventBytes) return false;
    this.log.error(`processMessage - a text message of ${bytes} bytes is over the bound of ${this.maxJsonEventBytes} bytes `
      + '(stream.maxJsonEventBytes): dropped, no json event');
    this.events.onJsonDropped?.(bytes);
    return true;
  }

  private async play(action: Extract<InboundAction, { kind: 'play' }>, duplex: Duplex | undefined, text: string): Promise<void> {
    const path = this.files.nextPath(action.extension);
    // Played from memory, before the file is written: the file and the play event are as the module's.
    if (duplex) await duplex.playStreamAudio(action.extension, action.audio, path);
    if (this.closed) return;
    try {
      await this.files.write(path, action.audio);
    } catch (err) {
      this.log.error(`processMessage - cannot write play file: ${messageOf(err)}`);
      this.events.onJson(text);
      return;
    }
    if (this.closed) return; // stopped while the file was written: the stream's cleanup deletes it, no event
    this.events.onPlay(playEventBody(action.data, path));
  }
}
