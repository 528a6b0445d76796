/** FreeSWITCH hangup causes (switch_cause_t names) with their Q.850 codes. */
export const HANGUP_CAUSES = {
  NONE: 0,
  UNALLOCATED_NUMBER: 1,
  NO_ROUTE_DESTINATION: 3,
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

/** The SIP status sent when a call is ended with this cause before it was answered (FreeSWITCH's mapping). */
export function causeToSipStatus(cause: HangupCause): number {
  switch (cause) {
    case 'USER_BUSY': return 486;
    case 'CALL_REJECTED': return 603;
    case 'UNALLOCATED_NUMBER': case 'NO_ROUTE_DESTINATION': return 404;
    case 'INCOMPATIBLE_DESTINATION': return 488;
    case 'NORMAL_TEMPORARY_FAILURE': case 'SERVICE_UNAVAILABLE': case 'SYSTEM_SHUTDOWN': return 503;
    case 'ORIGINATOR_CANCEL': return 487;
    case 'INVALID_NUMBER_FORMAT': return 484;
    default: return 480;
  }
}

const CAUSE_BY_CODE = new Map<number, HangupCause>(
  (Object.entries(HANGUP_CAUSES) as Array<[HangupCause, number]>).map(([name, code]) => [code, name]),
);

/**
 * switch_channel_str2cause: a cause name (any case) or its Q.850 number; undefined when unknown
 * (FreeSWITCH's SWITCH_CAUSE_NONE).
 */
export function str2cause(text: string): HangupCause | undefined {
  const t = text.trim();
  if (/^\d+$/.test(t)) return CAUSE_BY_CODE.get(Number(t));
  const upper = t.toUpperCase();
  return isHangupCause(upper) && upper !== 'NONE' ? upper : undefined;
}
