/** FreeSWITCH hangup causes (switch_cause_t names) with their Q.850 codes. */
export const HANGUP_CAUSES = {
  NONE: 0,
  UNALLOCATED_NUMBER: 1,
  NORMAL_CLEARING: 16,
  USER_BUSY: 17,
  NO_USER_RESPONSE: 18,
  NO_ANSWER: 19,
  CALL_REJECTED: 21,
  NORMAL_UNSPECIFIED: 31,
  NORMAL_TEMPORARY_FAILURE: 41,
  SERVICE_UNAVAILABLE: 63,
  INCOMPATIBLE_DESTINATION: 88,
  RECOVERY_ON_TIMER_EXPIRE: 102,
  INTERWORKING: 127,
  ORIGINATOR_CANCEL: 487,
  LOSE_RACE: 502,
  MANAGER_REQUEST: 503,
  MEDIA_TIMEOUT: 604,
  DESTINATION_OUT_OF_ORDER: 27,
  INVALID_NUMBER_FORMAT: 28,
  BEARERCAPABILITY_NOTIMPL: 65,
  PROTOCOL_ERROR: 111,
  SYSTEM_SHUTDOWN: 501,
  ALLOTTED_TIMEOUT: 602,
} as const;
export type HangupCause = keyof typeof HANGUP_CAUSES;

/** True when `name` is a known hangup cause. */
export function isHangupCause(name: string): name is HangupCause {
  return Object.prototype.hasOwnProperty.call(HANGUP_CAUSES, name);
}
