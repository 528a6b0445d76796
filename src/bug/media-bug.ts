/** The format of a channel's frames: s16 mono at `rateHz`, one frame per `ptimeMs`. */
export interface FrameFormat {
  /** Sample rate of the decoded audio in Hz. */
  readonly rateHz: number;
  /** Packet time in ms. */
  readonly ptimeMs: number;
}

/**
 * A tap on a channel's audio, like FreeSWITCH's media bug: bound to one channel, it sees every
 * packet time's read frame (what the remote party said) and write frame (what was sent to it).
 */
export interface MediaBug {
  /** Bug name, e.g. `audio_stream`; one bug per name and channel (MEDIA_BUG_* events' Media-Bug-Function). */
  readonly name: string;
  /** What the bug works for, if anything (Media-Bug-Target; `N/A` without, as FreeSWITCH's default). */
  readonly target?: string;
  /**
   * One packet time of audio, s16 at the channel's codec rate. A direction with no audio in this tick
   * is null. `dueMs` is the media clock's time (ms) the frame was due. Never throws.
   */
  onFrame(read: Int16Array | null, write: Int16Array | null, dueMs: number): void;
  /** The channel's codec changed (re-INVITE, late offer): frames come in the new format from the next tick on. */
  onFormatChange(format: FrameFormat): void;
  /** The remote party sent a DTMF digit (RFC 4733 at its end, or SIP INFO), lasting `durationMs`. */
  onDtmf(digit: string, durationMs: number): void;
  /** The channel is hanging up: the bug is already detached and must release everything. */
  onChannelClose(): void;
}
