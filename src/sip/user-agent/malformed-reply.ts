import { headerKey, splitCommaList } from '../message/grammar.ts';
import { buildErrorResponse } from '../message/message-builder.ts';
import type { ParseFailure } from '../message/parser.ts';
import type { Peer } from '../transport/peer.ts';
import { reasonPhrase } from '../message/reason-phrases.ts';
import { parseVia, type Via } from '../message/via.ts';
import { responseDestination, stampVia } from '../transport/via-routing.ts';

/**
 * The stateless answer to a request the parser refused (RFC 3261 §8.2: 400 naming the problem, 505 for
 * another SIP version), or undefined when there is nothing to answer (a response, an ACK, no usable Via).
 */
export function replyToMalformed(failure: ParseFailure, source: Peer, server: string): { data: Buffer; dest: Peer } | undefined {
  if (failure.status === 0 || failure.isRequest !== true || failure.method === 'ACK') return undefined;
  const viaValues = failure.headers.filter((h) => headerKey(h.name) === 'via').flatMap((h) => splitCommaList(h.value));
  const top = viaValues.length > 0 ? lenientVia(viaValues[0]) : undefined;
  if (top === undefined) return undefined; // no way to route a response
  stampVia(top, source);
  const detail = failure.message.replace(/[^A-Za-z0-9 .,;:=+\-_()/]/g, '');
  const data = buildErrorResponse(failure.headers, top, viaValues.slice(1), failure.status, `${reasonPhrase(failure.status)} (${detail})`, server);
  return { data, dest: responseDestination(top, source) };
}

/** The top Via for routing an error response; broken parameters (RFC 4475 `badinv01`) are dropped. */
function lenientVia(value: string): Via | undefined {
  for (const candidate of [value, value.split(';')[0]]) {
    try {
      return parseVia(candidate);
    } catch {
      // try the next, simpler form
    }
  }
  return undefined;
}
