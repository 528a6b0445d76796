// The real fs_cli (FreeSWITCH's console client) against audio-stream's Event Socket: its prompt
// (made from `api switchname`), plain commands, `/event plain ALL`, `/log <level>`, `/exit`, run
// through a pty (util-linux `script`) as an operator types them, and its `-x` mode. fs_cli comes
// with FreeSWITCH (/usr/local/freeswitch/bin/fs_cli, or FS_CLI): without it the tests are skipped
// with the reason, unless CI is set, where they fail (CI installs FreeSWITCH).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Runtime } from '../../src/service/runtime.ts';
import { EslServer } from '../../src/esl/server.ts';
import { Logger } from '../../src/lib/logger.ts';
import { makeChannel } from '../helpers/harness.ts';

const FS_CLI = process.env.FS_CLI ?? '/usr/local/freeswitch/bin/fs_cli';

function hasProgram(name: string): boolean {
  try {
    execFileSync('which', [name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Why fs_cli cannot be driven here, or undefined. */
function missing(): string | undefined {
  if (!existsSync(FS_CLI)) return `${FS_CLI} is missing (FreeSWITCH is not installed here)`;
  if (!hasProgram('script')) return '`script` (util-linux) is missing: no pty to run fs_cli in';
  return undefined;
}

const why = missing();
const skip = why !== undefined && !process.env.CI ? `skipped: ${why}; set CI to make this a failure` : false;
if (skip) console.log(`fs-cli.test.ts ${skip}`);

/** Fails the test when fs_cli is missing on CI (where it is not skipped). */
function requireFsCli(): void {
  if (why !== undefined) assert.fail(`${why}: CI is set, and CI installs FreeSWITCH`);
}

/** An Event Socket on 127.0.0.1:<ephemeral> with the default password, as `audio-stream serve` runs it. */
async function startEsl(t: TestContext): Promise<{ runtime: Runtime; server: EslServer; port: number }> {
  const runtime = new Runtime();
  const server = new EslServer(runtime.esl, { listen: { host: '127.0.0.1', port: 0 }, password: 'ClueCon', acl: ['127.0.0.0/8'] });
  await server.start();
  t.after(async () => {
    await server.close();
    for (const ch of [...runtime.channels]) ch.hangup();
  });
  return { runtime, server, port: server.address.port };
}

/** A home without ~/.fs_cli_conf, where fs_cli may keep its history. */
function cliHome(t: TestContext): string {
  const home = mkdtempSync(join(tmpdir(), 'as-fs-cli-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  return home;
}

/** Terminal control sequences (colours, line clearing) and carriage returns out of the screen text. */
function plain(text: string): string {
  return text.replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '').replace(/\x1b[()][0-9A-Za-z]|\x1b[=>]/g, '').replace(/\r/g, '');
}

/** fs_cli in a pty: what it shows, as text, and a way to type lines. */
class InteractiveCli {
  private screen = '';
  private readonly child: ChildProcessWithoutNullStreams;
  readonly exited: Promise<number | null>;

  constructor(port: number, home: string) {
    const command = `${FS_CLI} -H 127.0.0.1 -P ${port} -p ClueCon`;
    this.child = spawn('script', ['-qfec', command, '/dev/null'], { env: { ...process.env, HOME: home, TERM: 'xterm' } });
    this.child.stdout.on('data', (d: Buffer) => { this.screen += d.toString('utf8'); });
    this.child.stderr.on('data', (d: Buffer) => { this.screen += d.toString('utf8'); });
    this.exited = new Promise((resolve) => this.child.on('close', (code) => resolve(code)));
  }

  /** Everything shown so far, without control sequences. */
  get text(): string {
    return plain(this.screen);
  }

  /** Types a line and Enter. */
  type(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  /** Waits until the text shown after `from` (an offset in `text`) matches. */
  async waitFor(re: RegExp, from = 0, timeoutMs = 5000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.text.slice(from));
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`fs_cli did not show ${re} within ${timeoutMs} ms; it shows:\n${this.text.slice(from)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Types a line and waits for what it shows before the next prompt. */
  async run(line: string, shows: RegExp): Promise<string> {
    const from = this.text.length;
    this.type(line);
    const m = await this.waitFor(shows, from);
    return m[0];
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/** `fs_cli -x <command>`: its stdout and exit status. */
function runX(port: number, home: string, command: string): Promise<{ stdout: string; code: number | null }> {
  return new Promise((resolve) => {
    const child = spawn(FS_CLI, ['-H', '127.0.0.1', '-P', String(port), '-p', 'ClueCon', '-x', command], { env: { ...process.env, HOME: home } });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString('utf8'); });
    child.on('close', (code) => resolve({ stdout, code }));
  });
}

test('fs_cli: its prompt, commands, /event plain ALL, /log, /exit, as against FreeSWITCH', { skip, timeout: 60_000 }, async (t) => {
  requireFsCli();
  const { runtime, server, port } = await startEsl(t);
  const host = runtime.bus.hostname;
  const apiRun: string[] = [];
  runtime.bus.subscribe((e) => { if (e.name === 'API') apiRun.push([e.get('API-Command'), e.get('API-Command-Argument')].filter(Boolean).join(' ')); });
  const { channel } = makeChannel({ runtime });
  const cli = new InteractiveCli(port, cliHome(t));
  t.after(() => cli.kill());

  // At connect fs_cli runs `api switchname` (its prompt) and `api hostname`, then `log` (level 7).
  await cli.waitFor(/\+OK log level {2}\[7\]\n/);
  await cli.waitFor(new RegExp(`\\nfreeswitch@${host.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}> $`));
  assert.ok(!cli.text.includes('Command not found'), cli.text);
  assert.deepEqual(apiRun.slice(0, 2), ['switchname', 'hostname']);

  const prompt = `freeswitch@${host}> `;
  // The line typed, echoed (the terminal may show it twice: once as typed, once as libedit redraws
  // it after the prompt), then the reply's first line.
  const esc = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const reply = async (line: string) => {
    const from = cli.text.length;
    cli.type(line);
    return `${(await cli.waitFor(new RegExp(`${esc(line)}\\n(?:${esc(prompt + line)}\\n)*(?!${esc(prompt)})(.*)\\n`), from))[1]}\n`;
  };
  assert.equal(await reply('hostname'), `${host}\n`);
  assert.match(await cli.run('show channels count', /show channels count\n[\s\S]*?total\.\n/), /\n\n1 total\.\n$/);
  assert.match(await cli.run('show calls', /show calls\n[\s\S]*?total\.\n/), new RegExp(`\\n${channel.uuid},inbound,`));
  assert.equal(await reply('nosuch foo'), '-ERR nosuch foo Command not found!\n');
  assert.equal(await reply('hostname;;switchname'), `${host}${host}\n`);

  // Events: every API command fires API, and the channel's own events come as they happen.
  await cli.run('/event plain ALL', /\+OK event listener enabled plain\n/);
  let from = cli.text.length;
  cli.type(`uuid_answer ${channel.uuid}`);
  const answer = (await cli.waitFor(/RECV EVENT\nEvent-Name: CHANNEL_ANSWER\n[\s\S]*?\n\n/, from))[0];
  assert.match(answer, new RegExp(`\\nUnique-ID: ${channel.uuid}\\n`));
  assert.match(answer, new RegExp(`\\nFreeSWITCH-Switchname: ${host}\\n`));
  const api = (await cli.waitFor(/RECV EVENT\nEvent-Name: API\n[\s\S]*?\n\n/, from))[0];
  assert.match(api, new RegExp(`\\nAPI-Command: uuid_answer\\nAPI-Command-Argument: ${channel.uuid}\\n`), 'values shown decoded');
  assert.match(cli.text.slice(from), /\n\+OK\n/, 'the reply of uuid_answer');
  await cli.run('/noevents', /\+OK no longer listening for events\n/);

  // Log lines at the level asked, with the channel's uuid where they belong to one.
  await cli.run('/log info', /\+OK log level info \[6\]\n/);
  from = cli.text.length;
  const log = new Logger(`mod_audio_stream(${channel.uuid})`);
  log.debug('a debug line fs_cli must not show');
  log.info('hello from audio-stream');
  const line = (await cli.waitFor(/.*hello from audio-stream\n/, from))[0];
  assert.match(line, new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{6} \\d+\\.\\d\\d% \\[INFO\\] fs-cli\\.test\\.ts:\\d+ `
    + `mod_audio_stream\\(${channel.uuid}\\) hello from audio-stream\\n$`));
  assert.ok(!cli.text.includes('must not show'));
  await cli.run('/nolog', /\+OK no longer logging\n/);

  from = cli.text.length;
  cli.type('/exit');
  assert.equal(await cli.exited, 0);
  assert.ok(cli.text.slice(from).startsWith('/exit'), cli.text.slice(from));
  assert.ok(cli.text.includes(prompt));
  for (let i = 0; i < 100 && server.clientCount > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(server.clientCount, 0, 'the connection is gone');
});

test('fs_cli -x: prints the reply and a newline, exits 0 (an error too), as against FreeSWITCH', { skip, timeout: 30_000 }, async (t) => {
  requireFsCli();
  const { runtime, port } = await startEsl(t);
  const home = cliHome(t);
  const apiRun: string[] = [];
  runtime.bus.subscribe((e) => { if (e.name === 'API') apiRun.push(e.get('API-Command') ?? ''); });
  const host = runtime.bus.hostname;
  assert.deepEqual(await runX(port, home, 'hostname'), { stdout: `${host}\n`, code: 0 });
  assert.deepEqual(await runX(port, home, 'switchname'), { stdout: `${host}\n`, code: 0 });
  assert.deepEqual(await runX(port, home, 'version short'), { stdout: '1.10.12-release\n\n', code: 0 });
  assert.deepEqual(await runX(port, home, 'show calls count'), { stdout: '\n0 total.\n\n', code: 0 });
  assert.deepEqual(await runX(port, home, 'nosuch foo'), { stdout: '-ERR nosuch foo Command not found!\n\n', code: 0 });
  const { channel } = makeChannel({ runtime });
  const shown = await runX(port, home, 'show channels as json');
  assert.equal(shown.code, 0);
  const rows = (JSON.parse(shown.stdout) as { rows: Array<Record<string, string>> }).rows;
  assert.equal(rows[0]!.uuid, channel.uuid);
  assert.equal(rows[0]!.call_uuid, '');
  assert.deepEqual(apiRun, ['hostname', 'switchname', 'version', 'show', 'nosuch', 'show'], '-x runs nothing else');
});
