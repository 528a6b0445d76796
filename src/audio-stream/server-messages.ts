import type { Logger } from '../lib/logger.ts';
import { messageOf } from '../lib/errors.ts';
import type { PlayFiles } from './play-files.ts';
import { interpretMessage, playEventBody } from './stream-audio-message.ts';

/** Server messages that may wait for earlier play files to be written; more are dropped with an error log. */
export const MAX_PENDING_SERVER_MESSAGES = 256;

/** What the handler reports, in the order the messages came. */
export interface ServerMessageEvents {
  /** A text message that is not a well-formed streamAudio: the body of a `json` event (the text verbatim). */
  onJson(text: string): void;
  /** A streamAudio whose audio was written to `path`: the body of its `play` event. */
  onPlay(body: string, path: string): void;
}

/**
 * The application server's text messages to one stream, handled as mod_audio_stream handles
 * them, strictly in order: a `streamAudio` becomes a play file and a `play` event, anything else
 * (a malformed streamAudio included, with an error log) a `json` event. File writes are
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
  ) {}

  /** One text message from the server. */
  receive(text: string): void {
    if (!this.suppressLog) this.log.debug(`response: ${text.length > 1000 ? `${text.slice(0, 1000)}...` : text}`);
    if (this.pending >= MAX_PENDING_SERVER_MESSAGES) {
      this.log.error(`processMessage - ${MAX_PENDING_SERVER_MESSAGES} server messages still waiting for their files: message dropped`);
      return;
    }
    this.pending++;
    this.chain = this.chain
      .then(() => this.handle(text))
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
    if (action.kind === 'json') {
      if (action.error) this.log.error(`processMessage - ${action.error}`);
      this.events.onJson(text);
      return;
    }
    let path: string;
    try {
      path = await this.files.write(action.extension, action.audio);
    } catch (err) {
      this.log.error(`processMessage - cannot write play file: ${messageOf(err)}`);
      this.events.onJson(text);
      return;
    }
    if (this.closed) return; // stopped while the file was written: the stream's cleanup deletes it, no event
    this.events.onPlay(playEventBody(action.data, path), path);
  }
}
