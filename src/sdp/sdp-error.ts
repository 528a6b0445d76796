/** Stable codes of SdpError, one per kind of malformed session description. */
export const SdpErrorCode = {
  /** The text, a line, or a count of m= lines, formats or attributes is over its bound. */
  TOO_LARGE: 'SDP_ERR_TOO_LARGE',
  /** A line is not `<letter>=<value>`, or a line is where RFC 4566 §5 does not allow it. */
  SYNTAX: 'SDP_ERR_SYNTAX',
  /** A required line (v=, o=, s=) is missing. */
  MISSING: 'SDP_ERR_MISSING',
  /** A field has a bad value: version, port, number of fields, address type. */
  VALUE: 'SDP_ERR_VALUE',
} as const;
export type SdpErrorCode = (typeof SdpErrorCode)[keyof typeof SdpErrorCode];

/** A session description that cannot be parsed; `line` is 1-based (0 when not about one line). */
export class SdpError extends Error {
  constructor(readonly code: SdpErrorCode, message: string, readonly line = 0) {
    super(line > 0 ? `${message} (line ${line})` : message);
    this.name = 'SdpError';
  }
}
