// `npm run conformance:record`: runs every scenario against the real FreeSWITCH 1.10.12 with the C
// module (../shared/freeswitch) and writes the golden transcripts to test/conformance/golden/.
// Usage: npm run conformance:record [-- <scenario name>...]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_COMMANDS, SCENARIOS } from './scenarios.ts';
import { runCliCommands } from './driver.ts';
import { runAll } from './run.ts';
import { forGolden } from './transcript.ts';
import { freeswitchMissing, startFreeswitch } from './targets.ts';

const GOLDEN = join(import.meta.dirname, 'golden');
const only = process.argv.slice(2);
const missing = freeswitchMissing();
if (missing) {
  console.error(`cannot record: ${missing}`);
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'conformance-record-'));
let fs: ReturnType<typeof startFreeswitch> | undefined;
try {
  fs = startFreeswitch(join(dir, 'fs'), { sip: 5590, esl: 8532, rtpStart: 29400, rtpEnd: 29599 });
  if (!only.length || only.includes('fs-cli')) {
    const cli = await runCliCommands(fs, CLI_COMMANDS);
    writeFileSync(join(GOLDEN, 'fs-cli.json'), `${JSON.stringify(cli, null, 1)}\n`);
    console.log(`fs-cli: ${cli.length} commands`);
  }
  const scenarios = only.length ? SCENARIOS.filter((s) => only.includes(s.name)) : SCENARIOS;
  const transcripts = await runAll(fs, scenarios, dir);
  for (const [name, t] of transcripts) {
    writeFileSync(join(GOLDEN, `${name}.json`), `${JSON.stringify(forGolden(t), null, 1)}\n`);
    console.log(`${name}: ${t.replies.length} replies, ${t.events.length} events, ${t.connections.length} connections`);
  }
} finally {
  await fs?.stop();
  rmSync(dir, { recursive: true, force: true });
}
