import { ALLOWED_METHODS } from '../dialog/call.ts';
import { parseDecimal } from '../message/grammar.ts';
import { parseOptionTags } from '../message/header-values.ts';
import type { HeaderList } from '../message/message-builder.ts';
import type { SipMessage } from '../message/message.ts';

/** A request refused before it reaches a transaction user: status and extra headers for the response. */
export interface Refusal {
  status: number;
  headers: HeaderList;
}

/** Option tags we implement (RFC 3261 §8.2.2.3); empty: no 100rel, no timer, no replaces. */
export const SUPPORTED_OPTION_TAGS: readonly string[] = [];

/** Body types accepted in INVITE/UPDATE/ACK (Accept header, §20.1). */
export const ACCEPTED_SDP = 'application/sdp';

/** Methods defined by SIP extensions that we know but do not implement (405, not 501). */
const KNOWN_METHODS = new Set(['REGISTER', 'SUBSCRIBE', 'NOTIFY', 'MESSAGE', 'REFER', 'PUBLISH', 'PRACK']);

const ALLOW_HEADER: [string, string] = ['Allow', ALLOWED_METHODS.join(', ')];

/**
 * The UAS checks of RFC 3261 §8.2 (in its order) for a new non-ACK, non-CANCEL request: URI scheme (416),
 * Max-Forwards (483), method (405/501), Require (420), body type and encoding (415).
 * Returns undefined when the request may proceed.
 */
export function checkRequest(req: SipMessage): Refusal | undefined {
  const scheme = req.requestUri?.scheme;
  if (scheme !== 'sip' && scheme !== 'sips') return { status: 416, headers: [] };
  // Max-Forwards 0: 483, except OPTIONS, which a UA may answer as the final recipient (RFC 3261 §16.3 item 3, RFC 4475 `zeromf`).
  const maxForwards = req.getHeader('max-forwards');
  if (maxForwards !== undefined && parseDecimal(maxForwards, 255) === 0 && req.method !== 'OPTIONS') {
    return { status: 483, headers: [] };
  }
  if (!(ALLOWED_METHODS as readonly string[]).includes(req.method)) {
    return { status: KNOWN_METHODS.has(req.method) ? 405 : 501, headers: [ALLOW_HEADER] };
  }
  if (req.method !== 'CANCEL') {
    const unsupported = parseOptionTags(req.getHeaders('require')).filter((t) => !SUPPORTED_OPTION_TAGS.includes(t));
    if (unsupported.length > 0) return { status: 420, headers: [['Unsupported', unsupported.join(', ')]] };
  }
  return checkBody(req);
}

function checkBody(req: SipMessage): Refusal | undefined {
  if (req.body.length === 0 || (req.method !== 'INVITE' && req.method !== 'UPDATE')) return undefined;
  const encoding = req.getHeader('content-encoding');
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
    return { status: 415, headers: [['Accept-Encoding', 'identity'], ['Accept', ACCEPTED_SDP]] };
  }
  const type = req.contentType;
  if (type !== undefined && type !== ACCEPTED_SDP) return { status: 415, headers: [['Accept', ACCEPTED_SDP]] };
  return undefined;
}

/** Headers of our answer to OPTIONS (RFC 3261 §11.2). */
export function optionsHeaders(): HeaderList {
  return [
    ALLOW_HEADER,
    ['Accept', `${ACCEPTED_SDP}, application/dtmf-relay, application/dtmf`],
    ['Accept-Encoding', 'identity'],
    ['Accept-Language', 'en'],
    ['Supported', SUPPORTED_OPTION_TAGS.join(', ')],
  ];
}
