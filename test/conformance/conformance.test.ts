// The differential conformance suite: every scenario of scenarios.ts runs against audio-stream and
// is compared field by field with the golden transcript recorded from the real FreeSWITCH 1.10.12
// + mod_audio_stream (golden/, re-recorded by `npm run conformance:record`), and, where FreeSWITCH
// is installed (CI installs it), with a live run of the real module. Every difference must be on
// the reviewed allow-list (allow-list.ts), each of which the README documents.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CLI_COMMANDS, SCENARIOS } from './scenarios.ts';
import { runCliCommands } from './driver.ts';
import { runAll } from './run.ts';
import { compareTranscripts, type Difference } from './compare.ts';
import { ALLOWED, allowedBy } from './allow-list.ts';
import { TRANSCRIPT_VERSION, type Transcript } from './transcript.ts';
import { freeswitchMissing, startAudioStream, startFreeswitch, type Target } from './targets.ts';
import { requireProgram } from '../helpers/sipp.ts';

const GOLDEN = join(import.meta.dirname, 'golden');
const README = readFileSync(resolve(import.meta.dirname, '../../README.md'), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'as-conformance-'));
const fsMissing = freeswitchMissing();
if (fsMissing && process.env.CI) throw new Error(`the live comparison must run in CI: ${fsMissing}`);
if (fsMissing) console.log(`conformance: live comparison with the real module skipped: ${fsMissing}`);

let ours: Map<string, Transcript>;
let live: Map<string, Transcript> | undefined;
type CliRun = Array<{ command: string; output: string }>;
let ourCli: CliRun;
let liveCli: CliRun | undefined;
const targets: Target[] = [];
const allowedCount = new Map<string, number>();
let comparedFields = 0;

before(async () => {
  requireProgram('sipp');
  const as = await startAudioStream(join(dir, 'audio-stream'), { min: 29200, max: 29399 });
  targets.push(as);
  const fsRun = fsMissing ? undefined : startFreeswitch(join(dir, 'freeswitch'), { sip: 5600, esl: 8542, rtpStart: 29000, rtpEnd: 29199 });
  if (fsRun) targets.push(fsRun);
  // fs_cli first, while both are idle (show channels and hupall see no calls).
  [ourCli, liveCli] = await Promise.all([runCliCommands(as, CLI_COMMANDS), fsRun ? runCliCommands(fsRun, CLI_COMMANDS) : undefined]);
  [ours, live] = await Promise.all([
    runAll(as, SCENARIOS, join(dir, 'ours')),
    fsRun ? runAll(fsRun, SCENARIOS, join(dir, 'live')) : Promise.resolve(undefined),
  ]);
}, { timeout: 300000 });

after(async () => {
  await Promise.all(targets.map((t) => t.stop()));
  rmSync(dir, { recursive: true, force: true });
  const allowed = [...allowedCount].map(([id, n]) => `${id} ${n}`).join(', ');
  console.log(`conformance: ${SCENARIOS.length} scenarios${live ? ' x 2 (golden and live)' : ' (golden)'}, ${comparedFields} fields compared, `
    + `allowed differences by entry: ${allowed || 'none'}`);
});

function unallowed(differences: Difference[]): Difference[] {
  const out: Difference[] = [];
  for (const d of differences) {
    const a = allowedBy(d);
    if (a) allowedCount.set(a.id, (allowedCount.get(a.id) ?? 0) + 1);
    else out.push(d);
  }
  return out;
}

function describe(list: Difference[]): string {
  return list.map((d) => `  ${d.where}\n    module:       ${JSON.stringify(d.expected)?.slice(0, 400)}\n    audio-stream: ${JSON.stringify(d.actual)?.slice(0, 400)}`).join('\n');
}

function goldenOf(name: string): Transcript {
  return JSON.parse(readFileSync(join(GOLDEN, `${name}.json`), 'utf8')) as Transcript;
}

function check(expected: Transcript, what: string): void {
  const actual = ours.get(expected.scenario)!;
  const against = what.startsWith('golden') ? 'golden' : 'live';
  const { differences, fields } = compareTranscripts(expected, actual);
  comparedFields += fields;
  let rest = differences;
  if (against === 'live') {
    // The same audio of ours that a live run disagrees with is compared with the golden file too:
    // where that is identical, ours matches the real module sample for sample and the live run's
    // difference is FreeSWITCH's own (it reads RTP without a jitter buffer and, on a loaded
    // machine, loses packets or plays them late). Where the golden has no such excerpt, it counts.
    const golden = goldenOf(expected.scenario);
    const goldenDiffers = new Set(compareTranscripts(golden, actual).differences.map((d) => d.where));
    const hasExcerpt = (where: string) => (golden.connections[0]?.audio?.excerpts ?? [])
      .some((x, ch, all) => x !== '' && where === (all.length === 1 ? 'audio' : `audio.${ch === 0 ? 'left' : 'right'}`));
    rest = differences.filter((d) => {
      const oracle = d.where.startsWith('audio') && hasExcerpt(d.where) && !goldenDiffers.has(d.where);
      if (oracle) allowedCount.set('live-audio-golden-identical', (allowedCount.get('live-audio-golden-identical') ?? 0) + 1);
      return !oracle;
    });
  }
  const bad = unallowed(rest);
  assert.equal(bad.length, 0, `${expected.scenario}: ${bad.length} difference(s) from the ${what} not on the allow-list:\n${describe(bad)}`);
}

for (const scenario of SCENARIOS) {
  test(`golden: ${scenario.name}`, () => {
    assert.ok(existsSync(join(GOLDEN, `${scenario.name}.json`)), `no golden transcript for ${scenario.name}: run npm run conformance:record`);
    const golden = goldenOf(scenario.name);
    assert.equal(golden.version, TRANSCRIPT_VERSION, 're-record the golden transcripts: their format changed');
    check(golden, 'golden transcript');
  });
  test(`live: ${scenario.name}`, { skip: fsMissing ? `FreeSWITCH not here: ${fsMissing}` : false }, () => {
    check(live!.get(scenario.name)!, 'live run of the real module');
  });
}

/** fs_cli -x outputs compared; `version` names audio-stream and the unknown-uuid reply is ours (README, differs 1). */
function checkCli(expected: CliRun, what: string): void {
  const bad: string[] = [];
  expected.forEach(({ command, output }, i) => {
    comparedFields++;
    const actual = ourCli[i]?.output;
    if (actual === output) return;
    const allowed = (command === 'version' && /^FreeSWITCH Version 1\.10\.12-release\+audio-stream-/.test(actual ?? ''))
      || (output === '-ERR Operation Failed\n\n' && /^-ERR no such channel /.test(actual ?? ''));
    if (allowed) allowedCount.set('fs-cli', (allowedCount.get('fs-cli') ?? 0) + 1);
    else bad.push(`  ${command}\n    module:       ${JSON.stringify(output)}\n    audio-stream: ${JSON.stringify(actual)}`);
  });
  assert.equal(bad.length, 0, `fs_cli -x differs from the ${what}:\n${bad.join('\n')}`);
}

test('golden: fs_cli -x', () => {
  const golden = JSON.parse(readFileSync(join(GOLDEN, 'fs-cli.json'), 'utf8')) as CliRun;
  assert.deepEqual(golden.map((c) => c.command), CLI_COMMANDS, 're-record: the command list changed');
  checkCli(golden, 'golden transcript');
});

test('live: fs_cli -x', { skip: fsMissing ? `FreeSWITCH not here: ${fsMissing}` : false }, () => checkCli(liveCli!, 'live run'));

test('every golden file belongs to a scenario', () => {
  const names = new Set([...SCENARIOS.map((s) => `${s.name}.json`), 'fs-cli.json']);
  assert.deepEqual(readdirSync(GOLDEN).filter((f) => !names.has(f)), [], 'stale golden files');
});

test('every allowed difference is documented where it says', () => {
  const section = README.slice(README.indexOf('## Where audio-stream differs'), README.indexOf('\n## ', README.indexOf('## Where audio-stream differs') + 5));
  const items = new Set([...section.matchAll(/^(\d+)\. /gm)].map((m) => Number(m[1])));
  for (const a of ALLOWED) {
    const m = /^README, differs ([\d, and]+)/.exec(a.documented);
    assert.ok(m, `${a.id}: documented must name a README "differs" item`);
    for (const n of m[1].match(/\d+/g)!) assert.ok(items.has(Number(n)), `${a.id}: README has no item ${n} in its "differs" list`);
  }
});
