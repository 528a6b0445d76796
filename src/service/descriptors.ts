// The connection bounds against the process's descriptor limit: calls always keep the descriptors
// of their RTP socket and WebSocket (and a play file being written), so a flood of SIP/TCP, Event
// Socket or HTTP connections can reach its bounds but never take the descriptors calls need.
import { readFileSync } from 'node:fs';
import type { Config, ConnectionLimits } from '../config/config.ts';

/** Descriptors one call may hold at once: its RTP socket, its stream's WebSocket, a play file being written. */
export const DESCRIPTORS_PER_SESSION = 3;
/** Descriptors kept for everything else: listeners, the config and log files, node's own (epoll, pipes, workers). */
export const RESERVED_DESCRIPTORS = 64;
/** Smallest connection bound left to a listener when descriptors are short. */
const MIN_CONNECTIONS = 8;

/** The soft RLIMIT_NOFILE of this process (node raises it to the hard limit at start), from /proc; undefined elsewhere. */
export function openFileLimit(limitsText?: string): number | undefined {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return undefined;
    }
  }
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(text);
  if (!m || m[1] === 'unlimited') return undefined;
  return Number(m[1]);
}

/**
 * Fits the config's bounds to `limit` descriptors, in place: sip.maxSessions first (each session
 * keeps DESCRIPTORS_PER_SESSION), then the SIP/TCP, Event Socket and HTTP connection bounds share
 * what is left (at least MIN_CONNECTIONS each) in proportion to their configured sizes. Returns one warning per bound lowered,
 * naming its key, or none when everything fits.
 */
export function fitToDescriptors(config: Config, limit: number | undefined): string[] {
  if (limit === undefined) return [];
  const warnings: string[] = [];
  const listeners: Array<[string, ConnectionLimits]> = [['sip.tcp', config.sip.tcp], ['esl', config.esl], ['http', config.http]];
  const usable = limit - RESERVED_DESCRIPTORS - MIN_CONNECTIONS * listeners.length;
  const sessionsFit = Math.max(1, Math.floor(usable / DESCRIPTORS_PER_SESSION));
  if (config.sip.maxSessions > sessionsFit) {
    warnings.push(`sip.maxSessions ${config.sip.maxSessions} needs ${config.sip.maxSessions * DESCRIPTORS_PER_SESSION} descriptors `
      + `but the process may open ${limit} (ulimit -n): lowered to ${sessionsFit}`);
    config.sip.maxSessions = sessionsFit;
  }
  const left = limit - RESERVED_DESCRIPTORS - config.sip.maxSessions * DESCRIPTORS_PER_SESSION;
  const wanted = listeners.reduce((sum, [, l]) => sum + l.maxConnections, 0);
  if (wanted <= left) return warnings;
  for (const [key, l] of listeners) {
    const fitted = Math.min(l.maxConnections, MIN_CONNECTIONS + Math.floor(((left - MIN_CONNECTIONS * listeners.length) * l.maxConnections) / wanted));
    if (fitted >= l.maxConnections) continue;
    warnings.push(`${key}.maxConnections ${l.maxConnections} lowered to ${fitted}: with sip.maxSessions ${config.sip.maxSessions} `
      + `the calls keep ${config.sip.maxSessions * DESCRIPTORS_PER_SESSION} of the ${limit} descriptors (ulimit -n)`);
    l.maxConnections = fitted;
    l.maxConnectionsPerSource = Math.min(l.maxConnectionsPerSource, fitted);
  }
  return warnings;
}
