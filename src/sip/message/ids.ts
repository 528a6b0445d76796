import { createHash, randomBytes } from 'node:crypto';
import { MAGIC_COOKIE } from './via.ts';

/** A random tag (RFC 3261 §19.3: at least 32 bits of randomness), 16 hex chars. */
export function newTag(): string {
  return randomBytes(8).toString('hex');
}

/**
 * A tag that is the same for the same request, 16 hex chars: for a stateless response, whose
 * retransmissions must carry the same To tag (RFC 3261 §8.2.7). `parts` identify the request.
 */
export function stableTag(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 16);
}

/** A new RFC 3261 branch: the magic cookie plus 64 random bits. */
export function newBranch(): string {
  return MAGIC_COOKIE + randomBytes(8).toString('hex');
}

/** A random initial local CSeq below 2**31 (RFC 3261 §8.1.1.5). */
export function initialCSeq(): number {
  return randomBytes(4).readUInt32BE(0) & 0x7fffffff;
}
