// Field-by-field comparison of two transcripts of one scenario: the expected one (the real
// module's, live or from a golden file) and audio-stream's. Every difference has a stable `where`
// that the allow-list matches.
import type { MessageRun, NormalConnection, NormalEvent, Transcript } from './transcript.ts';

export interface Difference {
  scenario: string;
  /** Stable key: `reply[<i>]`, `events`, `event[<name>].missing:<header>`, `upgrade.value:<name>`, `audio`... */
  where: string;
  expected: unknown;
  actual: unknown;
}

/** How many fields a comparison looked at (for the closing figures). */
export interface Counted { differences: Difference[]; fields: number }

export function compareTranscripts(expected: Transcript, actual: Transcript): Counted {
  const out: Difference[] = [];
  const seen = new Set<string>();
  let fields = 0;
  const diff = (where: string, e: unknown, a: unknown) => {
    if (seen.has(where)) return;
    seen.add(where);
    out.push({ scenario: expected.scenario, where, expected: e, actual: a });
  };
  const field = (where: string, e: unknown, a: unknown) => {
    fields++;
    if (JSON.stringify(e) !== JSON.stringify(a)) diff(where, e, a);
  };

  // API replies, in order.
  field('replies.count', expected.replies.length, actual.replies.length);
  expected.replies.forEach((r, i) => field(`reply[${i}] ${r.command.split(' ').slice(0, 3).join(' ')}`, r.reply, actual.replies[i]?.reply));

  // Events: the sequence of names, then each pair (k-th of a name against k-th of that name).
  field('events', expected.events.map((e) => e.event), actual.events.map((e) => e.event));
  const byName = (events: NormalEvent[]) => {
    const m = new Map<string, NormalEvent[]>();
    for (const e of events) m.set(e.event, [...(m.get(e.event) ?? []), e]);
    return m;
  };
  const actualByName = byName(actual.events);
  for (const [name, list] of byName(expected.events)) {
    list.forEach((e, k) => {
      const a = actualByName.get(name)?.[k];
      if (a) fields += compareEvent(name, e, a, field, diff);
    });
  }

  // WebSocket connections.
  field('connections.count', expected.connections.length, actual.connections.length);
  expected.connections.forEach((c, i) => {
    const a = actual.connections[i];
    if (a) compareConnection(c, a, field, diff);
  });
  return { differences: out, fields };
}

type Field = (where: string, e: unknown, a: unknown) => void;

/**
 * Variables FreeSWITCH sets again when it handles the ACK (sofia's ACK handling), which
 * races with a call's first events: in FreeSWITCH's own events their position moves (a variable
 * set again goes last) and sip_to_tag and sip_cseq may be absent, run to run. Their order is not
 * compared and their presence is checked only where it does not depend on that race.
 */
const SET_AGAIN_ON_ACK = new Set(['variable_sip_call_id', 'variable_sip_from_tag', 'variable_sip_full_via', 'variable_sip_from_display',
  'variable_sip_full_from', 'variable_sip_full_to', 'variable_sip_to_tag', 'variable_sip_cseq']);
const RACY_PRESENCE = new Set(['variable_sip_to_tag', 'variable_sip_cseq']);
const AFTER_THE_ACK = new Set(['CHANNEL_HANGUP', 'CHANNEL_HANGUP_COMPLETE', 'CHANNEL_DESTROY']);

function compareEvent(name: string, e: NormalEvent, a: NormalEvent, field: Field, diff: Field): number {
  let n = 0;
  const actualNames = new Set(a.names);
  const expectedNames = new Set(e.names);
  // By the hangup the ACK has long been handled: there the racy ones are checked too.
  const racy = (h: string) => RACY_PRESENCE.has(h) && !AFTER_THE_ACK.has(name);
  for (const h of e.names) { n++; if (!actualNames.has(h) && !racy(h)) diff(`event[${name}].missing:${h}`, h, undefined); }
  for (const h of a.names) if (!expectedNames.has(h) && !racy(h)) diff(`event[${name}].extra:${h}`, undefined, h);
  const common = e.names.filter((h) => actualNames.has(h) && !SET_AGAIN_ON_ACK.has(h));
  const commonActual = a.names.filter((h) => expectedNames.has(h) && !SET_AGAIN_ON_ACK.has(h));
  field(`event[${name}].order`, common, commonActual);
  for (const [k, v] of Object.entries(e.values)) {
    if (k in a.values) field(`event[${name}].value:${k}`, v, a.values[k]);
  }
  n += Object.keys(e.values).length;
  if (name === 'mod_audio_stream::error') {
    // Codes must match; the message text is ours (clearer), compared under its own key.
    const code = (b: string) => { try { return (JSON.parse(b) as { message?: { code?: number } }).message?.code; } catch { return b; } };
    const text = (b: string) => { try { return (JSON.parse(b) as { message?: { error?: string } }).message?.error; } catch { return b; } };
    field(`event[${name}].code`, code(e.body), code(a.body));
    field(`event[${name}].text`, text(e.body), text(a.body));
  } else {
    field(`event[${name}].body`, e.body, a.body);
  }
  return n + 1;
}

/** Message runs as compared: texts exactly, binary runs by message size (their count depends on timing). */
function shape(runs: MessageRun[]): string[] {
  return runs.map((r) => ('text' in r ? `text ${r.text}` : `binary ${r.binary} B`));
}

function compareConnection(e: NormalConnection, a: NormalConnection, field: Field, diff: Field): void {
  field('connection.path', e.path, a.path);
  for (const [k, v] of Object.entries(e.upgrade)) {
    if (!(k in a.upgrade)) diff(`upgrade.missing:${k}`, v, undefined);
    else field(`upgrade.value:${k}`, v, a.upgrade[k]);
  }
  for (const k of Object.keys(a.upgrade)) if (!(k in e.upgrade)) diff(`upgrade.extra:${k}`, undefined, a.upgrade[k]);
  field('upgrade.order', e.upgradeOrder.filter((k) => k in a.upgrade), a.upgradeOrder.filter((k) => k in e.upgrade));
  const es = shape(e.runs);
  const as = shape(a.runs);
  // A trailing partial chunk (ours flushes it on stop and hangup) is compared on its own.
  const partial = (runs: MessageRun[]) => {
    const last = runs.filter((r) => 'binary' in r).at(-1);
    const first = runs.find((r) => 'binary' in r);
    return last && first && last !== first && 'binary' in last && 'binary' in first && last.binary < first.binary && last.count === 1 ? `binary ${last.binary} B` : undefined;
  };
  const ep = partial(e.runs);
  const ap = partial(a.runs);
  field('messages', es.filter((s) => s !== ep), as.filter((s) => s !== ap));
  field('messages.partial-chunk', ep ?? null, ap ?? null);
  field('close', e.close, a.close);
  field('pinged', e.pinged, a.pinged);
  e.audio?.excerpts.forEach((excerpt, ch) => {
    const where = e.audio!.excerpts.length === 1 ? 'audio' : `audio.${ch === 0 ? 'left' : 'right'}`;
    field(where, excerpt ? 'identical' : 'too short', excerpt ? compareAudio(excerpt, a.pcm?.[ch]) : (a.pcm?.[ch]?.length ?? 0) > 0 ? 'audio' : 'too short');
  });
}

/** 'identical' when the excerpt appears in `pcm` sample for sample, else how close it came. */
function compareAudio(excerptB64: string, pcm: Int16Array | undefined): string {
  if (!pcm || pcm.length === 0) return 'no audio';
  const buf = Buffer.from(excerptB64, 'base64');
  const ex = new Int16Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
  if (findRun(pcm, ex, 0, 0, ex.length, pcm.length) >= 0) return 'identical';
  // Where its first 20 ms are, how much of the rest differs (a packet lost or added shows here).
  const head = Math.min(160, ex.length);
  const at = findRun(pcm, ex, 0, 0, head, pcm.length - ex.length);
  if (at < 0) return `the excerpt is not found in ${pcm.length} samples`;
  let differ = 0;
  for (let i = 0; i < ex.length; i++) if (pcm[at + i] !== ex[i]) differ++;
  return `${differ} of ${ex.length} samples differ after the first ${head} matched at ${at}`;
}

/** Where ex[exFrom, exFrom + len) appears in pcm at a position in [from, to), or -1. */
function findRun(pcm: Int16Array, ex: Int16Array, exFrom: number, from: number, len: number, to: number): number {
  const last = Math.min(to, pcm.length - len);
  for (let p = from; p <= last; p++) {
    let i = 0;
    while (i < len && pcm[p + i] === ex[exFrom + i]) i++;
    if (i === len) return p;
  }
  return -1;
}
