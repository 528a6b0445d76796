/**
 * A tap on a channel's audio, like FreeSWITCH's media bug: bound to one channel, it sees every
 * packet time's read frame (what the remote party said) and write frame (what was sent to it).
 */
export interface MediaBug {
  /** Bug name, e.g. `audio_stream`; one bug per name and channel. */
  readonly name: string;
  /**
   * One packet time of audio, s16 at the channel's codec rate. A direction with no audio in this tick
   * is null. `dueMs` is the performance.now() time the frame was due. Never throws.
   */
  onFrame(read: Int16Array | null, write: Int16Array | null, dueMs: number): void;
  /** The channel is hanging up: the bug is already detached and must release everything. */
  onChannelClose(): void;
}
