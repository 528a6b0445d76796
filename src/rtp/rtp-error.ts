/** Stable codes of RtpError. */
export const RtpErrorCode = {
  /** Every even port of the configured range is taken (by us or by other processes). */
  NO_PORT: 'RTP_ERR_NO_PORT',
  /** The socket could not be bound for another reason than the port being in use (bad address...). */
  BIND: 'RTP_ERR_BIND',
} as const;
export type RtpErrorCode = (typeof RtpErrorCode)[keyof typeof RtpErrorCode];

/** A failure to set up RTP for a call (never raised per packet). */
export class RtpError extends Error {
  constructor(readonly code: RtpErrorCode, message: string) {
    super(message);
    this.name = 'RtpError';
  }
}
