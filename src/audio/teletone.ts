// tone_stream:// scripts, as FreeSWITCH's mod_tone_stream and libteletone read and play them
// (FreeSWITCH 1.10: teletone_run, teletone_mux_tones and its DDS; checked sample by sample against
// the real FreeSWITCH 1.10.12). The script is compiled into tone segments once; the samples are
// made a frame at a time straight into the caller's buffer.
//
// The language:
// - Instructions are separated by `;`. `X=value` (X one character) sets: `d` default tone ms,
//   `w` default silence ms, `v` volume in dB (-63 to 0, default -7), `l` times the next tone plays,
//   `L` times the whole script plays (the first L= above 0 only), `>` / `<` a decay step in ms
//   (volume falling / rising), `+` the decay per step in dB; `c` and `r` (channels, rate) are
//   ignored here: the tone is always made for the channel.
// - Anything else is a run of tones: `%(on,off,f1[,f2...])` (ms, ms, up to 18 frequencies in Hz),
//   `X(on,off)` (a mapped tone for on/off ms), or a bare mapped character (DTMF 0-9 * # A-D) for
//   the default lengths: 2000 samples on, 500 off (samples, not ms, as libteletone has it).
// - A syntax error (`%(` without a frequency, `X(` without exactly on,off) ends the pass: the rest
//   of the script is not played (what came before it is). Unknown characters are skipped.
// - mod_tone_stream: `;loops=N` (case-insensitive; the spec is cut there) plays the whole N times
//   (0 and 1: once; negative: until broken off); `path=<file>` runs each line of a file in turn.
// - Samples: a 128-entry quarter-wave sine table read by 32-bit phase accumulators that restart at
//   every tone; level 10^((v - 6.16) / 20) * 32767 * 1.414214; the tones are summed onto 128 and
//   divided by their count (so two tones are each at half level, and there is a small DC offset).
import { fail, ok, type Result } from '../lib/errors.ts';
import type { SampleSource } from './sample-source.ts';

/** Longest script line (and inline tone_stream:// spec), in characters. */
export const MAX_TONE_SCRIPT_CHARS = 4096;
/** Most tone segments one tone_stream:// may compile to. */
export const MAX_TONE_SEGMENTS = 10_000;
/** Most frequencies of one tone (TELETONE_MAX_TONES of FreeSWITCH 1.10; more are ignored). */
export const MAX_TONE_FREQS = 18;
/** libteletone's volume bounds, dB. */
const VOL_MAX = 0;
const VOL_MIN = -63;

/** The sine table: (i + 0.5) / 512 of a cycle, i = 0..127, full scale (libteletone's values exactly). */
const SINE = new Int16Array(128);
for (let i = 0; i < 128; i++) SINE[i] = Math.min(32767, Math.round(32768 * Math.sin(((i + 0.5) * Math.PI) / 256)));

/** The table sample for the accumulator's top 9 bits: the quarter wave mirrored (bit 7) and negated (bit 8). */
function cycleSample(bits: number): number {
  const idx = bits & 128 ? 127 - (bits & 127) : bits & 127;
  return bits & 256 ? -SINE[idx]! : SINE[idx]!;
}

/** DBM0_MAX_POWER and the full-scale factor, in single precision as libteletone computes them. */
const DBM0_MAX_POWER = Math.fround(Math.fround(3.14) + Math.fround(3.02));
const FULL_SCALE = Math.fround(Math.fround(32767) * Math.fround(1.414214));

/** The amplitude factor (Q15) of a tone at `db` (teletone_dds_state_set_tx_level, in float). */
export function levelScale(db: number): number {
  const exponent = Math.fround(Math.fround(Math.fround(db) - DBM0_MAX_POWER) / 20);
  return Math.trunc(Math.fround(Math.fround(10 ** exponent) * FULL_SCALE));
}

/** The phase increment of `freqHz` at `rateHz` (2^32 per cycle, as int32), as the C cast gives it on x86. */
function phaseStep(freqHz: number, rateHz: number): number {
  const step = Math.trunc((freqHz * 4294967296) / rateHz);
  return step >= -2147483648 && step <= 2147483647 ? step : -2147483648;
}

/** libteletone's character map: the DTMF digits (its '7', '8', '9', 'C' row is 859 Hz, not 852). */
const TONE_MAP: Readonly<Record<string, readonly number[]>> = {
  '1': [697, 1209], '2': [697, 1336], '3': [697, 1477], A: [697, 1633],
  '4': [770, 1209], '5': [770, 1336], '6': [770, 1477], B: [770, 1633],
  '7': [859, 1209], '8': [859, 1336], '9': [859, 1477], C: [859, 1633],
  '*': [941, 1209], '0': [941, 1336], '#': [941, 1477], D: [941, 1633],
};

/** One tone as it plays: `onSamples` of the tones, then `offSamples` of silence, `times` in a row. */
export interface ToneSegment {
  readonly onSamples: number;
  readonly offSamples: number;
  /** The frequencies, Hz (1 to 18). */
  readonly freqs: readonly number[];
  /** Phase increments of the frequencies at the program's rate (2^32 per cycle, as int32). */
  readonly phaseSteps: Int32Array;
  readonly volumeDb: number;
  /** -1: the volume falls by `decayDb` every `decayStepSamples`; 1: it rises; 0: steady. */
  readonly decayDirection: number;
  readonly decayStepSamples: number;
  readonly decayDb: number;
  /** Times it plays in a row (`l=`); Infinity for ever. */
  readonly times: number;
}

/** Segments that play `repeats` times in a row (one pass of a script, or its L= repeats). */
export interface ToneGroup {
  readonly segments: readonly ToneSegment[];
  readonly repeats: number;
}

/** A compiled tone_stream: its groups in order, the whole played `plays` times (Infinity: for ever). */
export interface ToneProgram {
  readonly rateHz: number;
  readonly groups: readonly ToneGroup[];
  readonly plays: number;
  /** Samples of one play (Infinity when a tone repeats for ever). */
  readonly samplesPerPlay: number;
}

/** A compiled script and what was wrong with it (FreeSWITCH skips the same things silently). */
export interface CompiledTone {
  program: ToneProgram;
  /** One line each: syntax errors (the rest of that pass is not played), skipped characters, ignored settings. */
  problems: string[];
}

/** A tone_stream:// spec split as mod_tone_stream does: the script (or a path= file) and the plays. */
export interface ToneStreamSpec {
  /** The inline script, or undefined when the tones come from a file. */
  script: string | undefined;
  /** The file of a `path=` spec. */
  file: string | undefined;
  /** Plays of the whole: `;loops=N` (N <= 1: once; negative: Infinity). */
  plays: number;
}

/** C's atoi: leading white space, a sign, digits; clamped to 32 bits. */
export function cInt(text: string): number {
  const m = /^[\t\n\v\f\r ]*([+-]?\d+)/.exec(text);
  if (!m) return 0;
  const n = Number(m[1]);
  return Math.max(-2147483648, Math.min(2147483647, n));
}

/** C's atof for decimal numbers (0 when there is none). */
function cFloat(text: string): number {
  const m = /^[\t\n\v\f\r ]*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)/.exec(text);
  return m ? Number(m[1]) : 0;
}

/** Splits the text after `tone_stream://`: `;loops=N` (case-insensitive) cuts it, `path=` names a file. */
export function splitToneStreamSpec(spec: string): ToneStreamSpec {
  let script = spec;
  let plays = 1;
  const at = spec.toLowerCase().indexOf(';loops=');
  if (at >= 0) {
    script = spec.slice(0, at);
    const loops = cInt(spec.slice(at + 7));
    plays = loops < 0 ? Infinity : Math.max(1, loops);
  }
  if (script.slice(0, 5).toLowerCase() === 'path=') return { script: undefined, file: script.slice(5), plays };
  return { script, file: undefined, plays };
}

/** What a script's settings hold while it is read (teletone_generation_session). */
interface ScriptState {
  rateHz: number;
  /** rate / 1000, integer (libteletone's ms-to-samples factor). */
  perMs: number;
  durationSamples: number;
  waitSamples: number;
  volumeDb: number;
  decayDirection: number;
  decayStepSamples: number;
  decayDb: number;
  /** l=: times the next tone plays (0: once; negative: for ever). */
  loops: number;
  /** L=: passes still to make. */
  passes: number;
  /** An L= was taken in this run (later ones are ignored). */
  looping: boolean;
}

const END = '\0';
const isBlank = (c: string | undefined) => c === ' ' || c === '\r' || c === '\n';

/** Compiles one script line after another (an inline spec is one line), played `plays` times, at `rateHz`. */
export function compileTone(lines: readonly string[], plays: number, rateHz: number): Result<CompiledTone> {
  const perMs = Math.trunc(rateHz / 1000);
  const state: ScriptState = {
    rateHz, perMs, durationSamples: 2000, waitSamples: 500, volumeDb: -7,
    decayDirection: 0, decayStepSamples: 0, decayDb: 1, loops: 0, passes: 0, looping: false,
  };
  const problems = new Set<string>();
  const groups: ToneGroup[] = [];
  let segmentCount = 0;
  for (const line of lines) {
    if (line.length > MAX_TONE_SCRIPT_CHARS) {
      return fail('TONE_STREAM_INVALID', `a tone script line is ${line.length} characters long (at most ${MAX_TONE_SCRIPT_CHARS})`);
    }
    state.looping = false;
    // teletone_run: one pass, then L= more passes; every pass after the first is the same as the second.
    for (let pass = 0; pass < 2; pass++) {
      const segments: ToneSegment[] = [];
      runPass(state, line, segments, problems);
      if (state.passes > 0) state.passes--;
      const repeats = pass === 0 ? 1 : state.passes + 1;
      const audible = segments.filter((s) => s.onSamples + s.offSamples > 0);
      segmentCount += audible.length;
      if (segmentCount > MAX_TONE_SEGMENTS) return fail('TONE_STREAM_INVALID', `a tone_stream compiles to more than ${MAX_TONE_SEGMENTS} tones`);
      if (audible.length > 0) groups.push({ segments: audible, repeats });
      if (state.passes === 0) break;
    }
    state.passes = 0;
  }
  let samplesPerPlay = 0;
  for (const g of groups) for (const s of g.segments) samplesPerPlay += (s.onSamples + s.offSamples) * s.times * g.repeats;
  const program: ToneProgram = { rateHz, groups, plays: samplesPerPlay > 0 ? plays : 1, samplesPerPlay };
  return ok({ program, problems: [...problems] });
}

/** One pass over a script line (teletone_run's loop body); tones go to `out`. */
function runPass(st: ScriptState, line: string, out: ToneSegment[], problems: Set<string>): void {
  // The C code cuts the text in place with NULs (at ';', ')' and the commas it splits), and a
  // tone without its ')' goes on reading the characters after the '(' as mapped tones: kept as is.
  const data = [...line, END];
  const text = (from: number) => {
    let s = '';
    for (let i = from; data[i] !== END; i++) s += data[i];
    return s;
  };
  const find = (from: number, c: string) => {
    for (let i = from; data[i] !== END; i++) if (data[i] === c) return i;
    return -1;
  };
  let cur = 0;
  while (data[cur] !== END) {
    if (isBlank(data[cur])) {
      cur++;
      continue;
    }
    let end = find(cur, ';');
    if (end >= 0) data[end++] = END;
    if (data[cur + 1] === '=') {
      const value = text(cur + 2);
      setting(st, data[cur]!, value, problems);
      if (end < 0 && value !== '') {
        problems.add(`the last setting ${data[cur]}=${value} has no ';' after it: its value is read as tones too, as FreeSWITCH does`);
      }
    } else {
      const stop = tones(st, data, cur, text, find, out, problems);
      if (stop < 0) return; // a syntax error: the rest of this pass is not played
      cur = stop;
    }
    // Without a ';' the next round starts one character on: after a setting, at its '='.
    if (end >= 0) cur = end;
    else if (data[cur] !== END) cur++;
  }
}

/** A run of tones from `start` to the next NUL; returns where it stopped, or -1 on a syntax error. */
function tones(st: ScriptState, data: string[], start: number, text: (from: number) => string, find: (from: number, c: string) => number,
  out: ToneSegment[], problems: Set<string>): number {
  let cur = start;
  while (data[cur] !== END) {
    const c = data[cur]!;
    if (isBlank(c)) {
      cur++;
      continue;
    }
    let onSamples = -1;
    let offSamples = -1;
    let freqs: number[] | undefined;
    let after = -1;
    if (data[cur + 1] === '(') {
      const open = cur + 2;
      after = find(open, ')');
      const shown = after >= 0 ? data.slice(cur, after + 1).join('') : text(cur);
      if (after >= 0) data[after++] = END;
      const fields: number[] = [];
      const listed: number[] = [];
      let p = open;
      let next: number;
      do {
        next = find(p, ',');
        if (next >= 0) data[next++] = END;
        const field = text(p);
        if (fields.length < 2) fields.push(cInt(field) * st.perMs);
        else {
          const f = cFloat(field);
          if (f === 0 && field.trim() !== '' && !/^\s*[+-]?0*\.?0*\s*$/.test(field)) problems.add(`frequency ${JSON.stringify(field)} is not a number (taken as 0, which ends the list)`);
          listed.push(f);
        }
        p = next;
      } while (next >= 0 && listed.length < MAX_TONE_FREQS);
      const count = fields.length + listed.length;
      if (count > 2 && c === '%') {
        freqs = listed;
      } else if (count !== 2 || c === '%') {
        problems.add(c === '%'
          ? `syntax error at ${JSON.stringify(shown)}: %(on,off,freq...) needs on ms, off ms and at least one frequency; the rest of the script is not played`
          : `syntax error at ${JSON.stringify(shown)}: ${c}(on,off) takes exactly on ms and off ms; the rest of the script is not played`);
        return -1;
      }
      if (after < 0) problems.add(`a tone at ${JSON.stringify(`${c}(`)} has no closing ')': the characters after it are read as tones`);
      onSamples = fields[0]!;
      offSamples = fields[1]!;
    }
    if (!freqs) {
      const mapped = TONE_MAP[c];
      if (mapped) freqs = [...mapped];
      else problems.add(`${JSON.stringify(c)} is not a tone (DTMF 0-9 * # A-D, or %(on,off,freq...)) nor a setting (X=value): skipped`);
    }
    if (freqs) {
      const zero = freqs.indexOf(0);
      const used = zero < 0 ? freqs : freqs.slice(0, zero);
      if (used.length === 0) problems.add(`the tone ${JSON.stringify(c)} has no frequency: skipped`);
      else emit(st, used, onSamples, offSamples, out, problems);
    }
    cur = after >= 0 ? after : cur + 1;
  }
  return cur;
}

/** One tone (the handler call of teletone_run, repeated as l= says). */
function emit(st: ScriptState, freqs: number[], tmpOn: number, tmpOff: number, out: ToneSegment[], problems: Set<string>): void {
  // A negative length in %(...) falls back to the default, as teletone_mux_tones has it.
  const on = Math.max(0, tmpOn > -1 ? tmpOn : st.durationSamples);
  const off = Math.max(0, tmpOff > -1 ? tmpOff : st.waitSamples);
  let times = 1;
  if (st.loops > 0) {
    times = st.loops;
    st.loops = 0;
  } else if (st.loops < 0) {
    times = Infinity;
    problems.add(`l=${st.loops} repeats the next tone for ever (FreeSWITCH hangs opening this script)`);
  }
  out.push({
    onSamples: on, offSamples: off, freqs, phaseSteps: Int32Array.from(freqs, (f) => phaseStep(f, st.rateHz)),
    volumeDb: st.volumeDb, decayDirection: st.decayDirection, decayStepSamples: st.decayStepSamples, decayDb: st.decayDb, times,
  });
}

/** An `X=value` instruction. */
function setting(st: ScriptState, key: string, value: string, problems: Set<string>): void {
  switch (key) {
    case 'd': st.durationSamples = cInt(value) * st.perMs; break;
    case 'w': st.waitSamples = cInt(value) * st.perMs; break;
    case 'v': {
      const db = Math.fround(cFloat(value));
      if (db <= VOL_MAX && db >= VOL_MIN) st.volumeDb = db;
      else problems.add(`volume v=${value} is outside ${VOL_MIN} to ${VOL_MAX} dB: ignored`);
      break;
    }
    case '>': st.decayStepSamples = cInt(value) * st.perMs; st.decayDirection = -1; break;
    case '<': st.decayStepSamples = cInt(value) * st.perMs; st.decayDirection = 1; break;
    case '+': st.decayDb = Math.fround(cFloat(value)); break;
    case 'l': st.loops = cInt(value); break;
    case 'L':
      if (!st.looping) {
        const n = cInt(value);
        if (n > 0) {
          st.passes = n;
          st.looping = true;
        }
      }
      break;
    case 'c': case 'r':
      problems.add(`${key}=${value} ignored: the tone is made for the channel (mono, at its codec rate)`);
      break;
    default:
      problems.add(`unknown setting ${key}=${value}: ignored`);
  }
}

/**
 * Plays a compiled tone_stream: a frame at a time into the caller's buffer, with no allocation per
 * frame. A codec rate change recompiles the script for the new rate and goes on from the same point.
 */
export class ToneGenerator implements SampleSource {
  private program: ToneProgram;
  private group = 0;
  private repeat = 0;
  private segment = 0;
  private time = 0;
  /** Samples of the current segment already made. */
  private offset = 0;
  private play = 0;
  private done: boolean;
  private readonly phase = new Int32Array(MAX_TONE_FREQS);
  private volumeDb = 0;
  private scale = 0;
  private decayCount = 0;
  /** The sums of one run of samples (grown once to the largest frame asked for). */
  private sums = new Int32Array(0);
  /** One cycle of the sine at `cycleScale` (modulate_sample's output for each of its 512 table steps). */
  private readonly cycle = new Int16Array(512);
  private cycleScale = NaN;

  /** Compiles `lines` (a script, or the lines of a path= file) for `rateHz`; the problems are FreeSWITCH's silent skips. */
  static create(lines: readonly string[], plays: number, rateHz: number): Result<{ generator: ToneGenerator; problems: string[] }> {
    const compiled = compileTone(lines, plays, rateHz);
    if (!compiled.ok) return compiled;
    return ok({ generator: new ToneGenerator(lines, plays, compiled.value.program), problems: compiled.value.problems });
  }

  private constructor(private readonly lines: readonly string[], private readonly plays: number, program: ToneProgram) {
    this.program = program;
    this.done = program.groups.length === 0;
  }

  get rateHz(): number {
    return this.program.rateHz;
  }

  get ended(): boolean {
    return this.done;
  }

  /** The compiled program (for tests and diagnostics). */
  get compiled(): ToneProgram {
    return this.program;
  }

  read(out: Int16Array, offset: number, count: number): number {
    let written = 0;
    while (written < count && !this.done) {
      const seg = this.current();
      if (this.offset === 0) this.startSegment(seg);
      const at = offset + written;
      if (this.offset < seg.onSamples) {
        const n = Math.min(count - written, seg.onSamples - this.offset);
        this.tone(seg, out, at, n);
        this.offset += n;
        written += n;
      } else {
        const n = Math.min(count - written, seg.onSamples + seg.offSamples - this.offset);
        out.fill(0, at, at + n);
        this.offset += n;
        written += n;
      }
      if (this.offset >= seg.onSamples + seg.offSamples) this.advance();
    }
    return written;
  }

  setRate(rateHz: number): void {
    if (rateHz === this.program.rateHz || this.done) return;
    const compiled = compileTone(this.lines, this.plays, rateHz);
    if (!compiled.ok) {
      this.done = true;
      return;
    }
    // Same segment, the same share of it; the phases and the decay as they would be there.
    const old = this.current();
    const fraction = this.offset / (old.onSamples + old.offSamples);
    this.program = compiled.value.program;
    const seg = this.current();
    this.offset = Math.min(seg.onSamples + seg.offSamples - 1, Math.floor(fraction * (seg.onSamples + seg.offSamples)));
    this.startSegment(seg);
    const into = Math.min(this.offset, seg.onSamples);
    for (let j = 0; j < seg.phaseSteps.length; j++) this.phase[j] = mulMod32(seg.phaseSteps[j]!, into);
    for (let i = 0; i < into && seg.decayDirection !== 0; i++) this.decayTick(seg);
  }

  private current(): ToneSegment {
    return this.program.groups[this.group]!.segments[this.segment]!;
  }

  /** teletone_mux_tones' start: phases at 0, the volume as set when the tone was read. */
  private startSegment(seg: ToneSegment): void {
    this.phase.fill(0);
    this.volumeDb = seg.volumeDb;
    this.scale = levelScale(seg.volumeDb);
    this.decayCount = 0;
  }

  private decayTick(seg: ToneSegment): void {
    if (++this.decayCount < seg.decayStepSamples) return;
    const next = Math.fround(this.volumeDb + Math.fround(seg.decayDirection * seg.decayDb));
    if (next <= VOL_MAX && next >= VOL_MIN) {
      this.volumeDb = next;
      this.scale = levelScale(next);
      this.decayCount = 0;
    }
  }

  private tone(seg: ToneSegment, out: Int16Array, at: number, n: number): void {
    const steps = seg.phaseSteps;
    const k = steps.length;
    const phase = this.phase;
    if (seg.decayDirection === 0) {
      // Steady level: one tone at a time over the run, each accumulator in a local.
      if (this.sums.length < n) this.sums = new Int32Array(n);
      const sums = this.sums;
      sums.fill(128, 0, n);
      const table = this.scaledCycle();
      for (let j = 0; j < k; j++) {
        let acc = phase[j]!;
        const step = steps[j]!;
        for (let i = 0; i < n; i++) {
          sums[i]! += table[acc >>> 23]!;
          acc = (acc + step) | 0;
        }
        phase[j] = acc;
      }
      if (k === 1) for (let i = 0; i < n; i++) out[at + i] = sums[i]!;
      else for (let i = 0; i < n; i++) out[at + i] = (sums[i]! / k) | 0;
      return;
    }
    for (let i = 0; i < n; i++) {
      this.decayTick(seg);
      const scale = this.scale;
      let sum = 128;
      for (let j = 0; j < k; j++) {
        const acc = phase[j]!;
        sum += (cycleSample(acc >>> 23) * scale) >> 15;
        phase[j] = acc + steps[j]!;
      }
      out[at + i] = (sum / k) | 0;
    }
  }

  /** The whole cycle (512 steps of the accumulator's top 9 bits) at the current level, rebuilt when the level changes. */
  private scaledCycle(): Int16Array {
    if (this.cycleScale !== this.scale) {
      const scale = this.scale;
      for (let bits = 0; bits < 512; bits++) this.cycle[bits] = (cycleSample(bits) * scale) >> 15;
      this.cycleScale = scale;
    }
    return this.cycle;
  }

  private advance(): void {
    this.offset = 0;
    const group = this.program.groups[this.group]!;
    if (++this.time < group.segments[this.segment]!.times) return;
    this.time = 0;
    if (++this.segment < group.segments.length) return;
    this.segment = 0;
    if (++this.repeat < group.repeats) return;
    this.repeat = 0;
    if (++this.group < this.program.groups.length) return;
    this.group = 0;
    if (++this.play < this.program.plays) return;
    this.done = true;
  }
}

/** (a * n) mod 2^32 for an int32 a, exactly (as uint32). */
function mulMod32(a: number, n: number): number {
  a >>>= 0;
  const hi = Math.floor(n / 65536) % 65536;
  const lo = n % 65536;
  return ((((a * hi) % 4294967296) * 65536) % 4294967296 + a * lo) % 4294967296 >>> 0;
}
