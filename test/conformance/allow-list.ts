// The reviewed list of every deliberate difference between audio-stream and FreeSWITCH + the C
// module that the conformance suite may see. Each entry names where it applies, when (a predicate
// on the two values), and its reason, which is in the README's "where audio-stream differs" list
// (or docs/esl-compat.md for the Event Socket). Any difference not matched here fails the suite.
import type { Difference } from './compare.ts';

export interface Allowed {
  id: string;
  /** The README item (or doc) that documents it. */
  documented: string;
  reason: string;
  where: RegExp;
  scenarios?: RegExp;
  when?: (expected: unknown, actual: unknown) => boolean;
}

const isArray = (v: unknown): v is string[] => Array.isArray(v);
const binaries = (v: unknown) => (isArray(v) ? v.filter((s) => s.startsWith('binary ')) : []);
const texts = (v: unknown) => (isArray(v) ? v.filter((s) => s.startsWith('text ')) : []);
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
/**
 * Both message lists without the start metadata (ours sends it first; the module's race may send
 * audio before it, or, on a loaded machine, lose it): [module's, ours].
 */
const withoutMetadata = (e: unknown, a: unknown): [string[], string[]] => {
  const ours = isArray(a) ? a : [];
  const meta = ours[0]?.startsWith('text ') ? ours[0] : undefined;
  return [(isArray(e) ? e : []).filter((m) => m !== meta), meta ? ours.slice(1) : ours];
};
const collapsed = (list: string[]) => list.filter((m, i) => !(m.startsWith('binary ') && list[i - 1] === m));

export const ALLOWED: Allowed[] = [
  {
    id: 'clear-error-replies', documented: 'README, differs 1',
    reason: 'validation failures answer -ERR <what is wrong> (the module: "-ERR Operation Failed" or an empty reply, which ESL shows as "-ERR no reply")',
    where: /^reply\[\d+\]/,
    when: (e, a) => (e === '-ERR Operation Failed\n' || e === '-ERR no reply\n') && typeof a === 'string' && a.startsWith('-ERR ') && a.length > 6,
  },
  {
    id: 'clear-error-messages', documented: 'README, differs 9; docs/errors.md',
    reason: 'error events carry the module\'s code with a message that names the cause (e.g. the address refused, the deadline passed)',
    where: /^event\[mod_audio_stream::error\]\.text$/,
    when: (e, a) => typeof e === 'string' && typeof a === 'string' && a.length > 0,
  },
  {
    id: 'metadata-first', documented: 'README, differs 4',
    reason: 'the module races its first audio frame against the metadata (1 run in 4; on a loaded machine the metadata may not arrive at all); audio-stream always sends the metadata first',
    where: /^messages$/,
    when: (e, a) => {
      if (!isArray(e) || !isArray(a) || !a[0]?.startsWith('text ') || e[0] === a[0]) return false;
      const [mod, ours] = withoutMetadata(e, a);
      return same(collapsed(mod), collapsed(ours));
    },
  },
  {
    id: 'silent-write-leg', documented: 'README, differs 7',
    reason: 'in mixed and stereo the module stalls while nothing is written to the caller (a parked call); audio-stream counts the missing direction as silence',
    where: /^(messages|audio(\.(left|right))?)$/, scenarios: /^(mixed|stereo)-(8k|16k)$/,
    when: (e, a) => {
      if (!isArray(e)) return e === 'too short' && a === 'audio';
      const [mod, ours] = withoutMetadata(e, a);
      return binaries(e).length === 0 && binaries(a).length > 0 && new Set(binaries(a)).size === 1 && same(texts(mod), texts(ours));
    },
  },
  {
    id: 'chunks-by-buffer-size', documented: 'README, differs 5',
    reason: 'the module sends one message per packet time when the ptime is over 20 ms (30 ms here); audio-stream sends exactly STREAM_BUFFER_SIZE ms (20)',
    where: /^messages$/, scenarios: /^ptime-30-/,
    when: (e, a) => isArray(e) && isArray(a) && same(texts(e), texts(a)) && binaries(a).length > 0
      && binaries(a).every((b) => /^binary (320|640) B$/.test(b)),
  },
  {
    id: 'ptime-30-16k-audio', documented: 'README, differs 5',
    reason: 'at ptime 30 and 16k the module loses a third of the audio; audio-stream\'s continuous FIFO keeps all of it',
    where: /^audio$/, scenarios: /^ptime-30-16k$/,
    // Ours still has to have sent audio of its own.
    when: (_e, a) => typeof a === 'string' && !/^(no audio|too short)/.test(a),
  },
  {
    id: 'beyond-the-module', documented: 'README, differs 6, 10 and 14',
    reason: 'audio-stream takes 32k (the module\'s atoi reads 32 and refuses it), 44100 (refused by the module\'s multiple-of-8000 check) and IPv6 literals (differs 10)',
    where: /^(reply\[\d+\]|events|connections\.count)/, scenarios: /^beyond-the-module$/,
    when: (e, a) => (typeof e === 'string' ? e === '-ERR Operation Failed\n' && a === '+OK Success\n'
      : typeof e === 'number' ? e === 0 && a === 2
      : same(e, []) && same(a, ['mod_audio_stream::connect', 'mod_audio_stream::connect', 'mod_audio_stream::error'])),
  },
  {
    id: 'partial-chunk-flushed', documented: 'README, differs 5',
    reason: 'audio-stream flushes the partial chunk at stop and hangup; the module drops it',
    where: /^messages\.partial-chunk$/, when: (e) => e === null,
  },
  {
    id: 'deflate-offered', documented: 'README, differs 8',
    reason: 'audio-stream offers permessage-deflate unless STREAM_MESSAGE_DEFLATE is true (the module reads an uninitialised flag; this build never offers it)',
    where: /^upgrade\.extra:sec-websocket-extensions$/,
    when: (_e, a) => typeof a === 'string' && a.startsWith('permessage-deflate'),
  },
  {
    id: 'upgrade-header-order-and-case', documented: 'README, differs 16',
    reason: 'the upgrade request\'s header order and the case of "Connection: Upgrade" are the ws library\'s; HTTP gives neither a meaning (RFC 9110 5.3, RFC 6455 4.1)',
    where: /^upgrade\.(order|value:connection)$/,
    when: (e, a) => (isArray(e) ? same([...e].sort(), [...(a as string[])].sort()) : String(e).toLowerCase() === String(a).toLowerCase()),
  },
  {
    id: 'freeswitch-internals', documented: 'README, differs 17',
    reason: 'variables that name FreeSWITCH internals audio-stream does not have: the sofia profile and its URL, call recovery, the codec module string, the RTP timer',
    where: /^event\[[^\]]+\]\.missing:variable_(sofia_profile_name|sofia_profile_url|recovery_profile_name|ep_codec_string|rtp_use_timer_name)$/,
  },
  {
    id: 'rtp-statistics', documented: 'README, differs 17',
    reason: 'RTP statistics audio-stream does not count (bytes, skipped, comfort noise, jitter, MOS, flaws, RTCP); the packet counts are there',
    where: /^event\[CHANNEL_(HANGUP_COMPLETE|DESTROY)\]\.missing:variable_rtp_audio_((in|out)_(?!packet_count$)\w+|rtcp_\w+)$/,
  },
];

/** The allow-list entry that covers this difference, if any. */
export function allowedBy(d: Difference): Allowed | undefined {
  return ALLOWED.find((a) => a.where.test(d.where) && (!a.scenarios || a.scenarios.test(d.scenario))
    && (!a.when || a.when(d.expected, d.actual)));
}
