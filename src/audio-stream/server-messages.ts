import type { Logger } from '../lib/logger.ts';
import { messageOf } from '../lib/errors.ts';
import type { PlayFiles } from './play-files.ts';
import type { Duplex } from './duplex.ts';
import { interpretMessage, playEventBody } from './stream-audio-message.ts';

/** Server messages that may wait for earlier play files to be written; more are dropped with an error log. */
export const MAX_PENDING_SERVER_MESSAGES = 256;

/** What the handler reports, in the order the messages came. */
export interface ServerMessageEvents {
  /** A text message that is not a well-formed streamAudio: the body of a `json` event (the text verbatim). */
  onJson(text: string): void;
  /** A streamAudio whose audio was written to its file: the body of its `play` event. */
  onPlay(body: string): void;
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
  ) {}

  /** One binary message from the server: played in full duplex, ignored otherwise (as the module does). */
  receiveBinary(data: Buffer | Buffer[]): void {
    const duplex = this.duplex;
    if (!duplex || this.closed) return;
    if (this.pending === 0) {
      duplex.onBinary(data); // nothing ahead of it: played at once
      return;
    }
    this.enqueue(() => duplex.onBinary(data));
  }

  /** One text message from the server. */
  receive(text: string): void {
    if (!this.suppressLog) this.log.debug(`response: ${text.length > 1000 ? `${text.slice(0, 1000)}...` : text}`);
    this.enqueue(() => this.handle(text));
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

  private async handle(text: string): Promise<void> {
    if (this.closed) return;
    const action = interpretMessage(text);
    const duplex = this.duplex?.enabled ? this.duplex : undefined;
    if (action.kind === 'json' || (action.kind !== 'play' && !duplex)) {
      if (action.kind === 'json' && action.error) this.log.error(`processMessage - ${action.error}`);
      this.events.onJson(text);
      return;
    }
    if (action.kind === 'clear') return duplex!.clear();
    if (action.kind === 'mark') return duplex!.mark(action.name);
    if (action.kind === 'hangup') return duplex!.hangup(action.cause, action.afterPlayout);
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
