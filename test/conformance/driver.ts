// Runs one conformance scenario against a target exactly as an application would: a SIPp call
// into the parking dialplan, `uuid_audio_stream` and friends over a raw Event Socket connection,
// and a recording WebSocket server. The result is a raw transcript (see transcript.ts for how it
// is normalised and compared).
import { RawEsl, plainHeaderList, plainHeaders, plainBody, type EslFrame } from '../helpers/esl-raw.ts';
import { spawnSync } from 'node:child_process';
import { hostname, tmpdir } from 'node:os';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { writeWav } from '../../src/audio/wav.ts';
import { join } from 'node:path';
import { runSipp, externalRtpScenario, type SippResult } from '../helpers/sipp.ts';
import { openRtpSender, testSignal } from './rtp-sender.ts';
import { closedPort } from '../helpers/raw-server.ts';
import { startWsRecorder, type RecordedConnection, type UpgradeBehaviour, type WsRecorder } from './ws-recorder.ts';
import type { Target } from './targets.ts';

/** One step of a scenario. `${uuid}` and `${url}` in API commands are replaced. */
export type Step =
  | { api: string }
  | { sleep: number }
  /** Waits for the count-th event of this subclass short name (connect, error...) or Event-Name. */
  | { event: string; count?: number; timeoutMs?: number }
  /** Waits until the latest connection holds `count` binary messages. */
  | { binaries: number; timeoutMs?: number }
  | { serverSend: string }
  | { serverClose: [number, string] }
  /** uuid_kill and wait for the channel to be gone. */
  | { hangup: true };

export interface Scenario {
  name: string;
  /** What it checks, for the reader of a failure. */
  about: string;
  ptimeMs?: 20 | 30;
  /** Channel variables set with uuid_setvar before the steps. */
  vars?: Record<string, string>;
  /** How the WebSocket server answers; 'refused' = nothing listens on the port. */
  server?: UpgradeBehaviour | 'refused';
  /** Path and query of the URL (default /conformance). */
  path?: string;
  /** Event names subscribed besides the module's CUSTOM events. */
  channelEvents?: string[];
  /** Rate and channels of the audio sent, for scenarios whose audio is compared. */
  audio?: { rateHz: number; channels: 1 | 2 };
  steps: Step[];
}

/** A received event: headers decoded, in order. */
export interface RawEvent { headers: Array<[string, string]>; body: string }

export interface RawTranscript {
  scenario: string;
  uuid: string;
  replies: Array<{ command: string; reply: string }>;
  events: RawEvent[];
  connections: Array<Omit<RecordedConnection, 'ended' | 'socket'>>;
  /** Where the target writes play files. */
  tempDir: string;
  sipp: SippResult | undefined;
}

const MODULE_EVENTS = ['connect', 'disconnect', 'error', 'json', 'play'].map((s) => `mod_audio_stream::${s}`);

let nextSippPort = 0;
/** SIPp signalling and media ports for the next call (distinct for calls that overlap). */
function sippPorts(): { local: number; media: number } {
  const k = nextSippPort++ % 50;
  // Below the ephemeral range (32768-60999), where no socket of another test can take them.
  return { local: 28000 + k * 4, media: 28400 + k * 8 };
}

function eventName(f: EslFrame): { name: string; subclass: string | undefined; uuid: string | undefined } {
  const h = plainHeaders(f);
  return { name: h.get('event-name') ?? '', subclass: h.get('event-subclass'), uuid: h.get('unique-id') };
}

/** Runs `scenario` against `target`, with its files in `dir`. */
export async function runScenario(target: Target, scenario: Scenario, dir: string): Promise<RawTranscript> {
  const ptime = scenario.ptimeMs ?? 20;
  let recorder: WsRecorder | undefined;
  let port: number;
  if (scenario.server === 'refused') port = await closedPort();
  else {
    recorder = await startWsRecorder(scenario.server ?? 'accept');
    port = recorder.port;
  }
  const url = `ws://127.0.0.1:${port}${scenario.path ?? '/conformance'}`;
  let esl: RawEsl;
  try {
    esl = await RawEsl.authed(target.eslPort, target.eslPassword);
  } catch (err) {
    await recorder?.close();
    throw err;
  }
  const transcript: RawTranscript = { scenario: scenario.name, uuid: '', replies: [], events: [], connections: [], sipp: undefined, tempDir: target.tempDir };
  let sipp: Promise<SippResult> | undefined;
  let rtp: Awaited<ReturnType<typeof openRtpSender>> | undefined;
  let isDestroyed = (): boolean => false;
  try {
    const names = ['CHANNEL_PARK', 'CHANNEL_DESTROY', ...(scenario.channelEvents ?? [])];
    await esl.command(`event plain ${[...new Set(names)].join(' ')} CUSTOM ${MODULE_EVENTS.join(' ')}`);
    const ports = sippPorts();
    rtp = await openRtpSender(ports.media + 4, ptime);
    const portFile = join(dir, `${scenario.name}-${target.kind}.rtp-port`);
    sipp = runSipp({
      dir, name: `${scenario.name}-${target.kind}`, scenario: externalRtpScenario(rtp.port, ptime, portFile, 60000, scenario.name),
      target: `127.0.0.1:${target.sipPort}`, service: target.parkService, localPort: ports.local, mediaPort: ports.media, timeoutSec: 90,
    });
    // Scenarios may run side by side: this call is the one whose INVITE named this scenario.
    const park = await esl.nextEvent((f) => eventName(f).name === 'CHANNEL_PARK'
      && plainHeaders(f).get('variable_sip_h_x-test-case') === scenario.name, 15000);
    const uuid = eventName(park).uuid!;
    // SIPp wrote the callee's RTP port from the 200's SDP; the caller starts talking.
    const deadline = Date.now() + 5000;
    while (!existsSync(portFile) || !readFileSync(portFile, 'utf8').trim()) {
      if (Date.now() > deadline) throw new Error('SIPp did not report the RTP port of the answer');
      await new Promise((r) => setTimeout(r, 10));
    }
    rtp.start(Number(readFileSync(portFile, 'utf8').trim()));
    transcript.uuid = uuid;
    const wanted = new Set(scenario.channelEvents ?? []);
    if (scenario.channelEvents?.includes('CHANNEL_PARK')) transcript.events.push(toRaw(park));
    const events: RawEvent[] = transcript.events;
    const counts = new Map<string, number>();
    let destroyed = false;
    isDestroyed = () => destroyed;
    const waiters: Array<() => void> = [];
    esl.onEventFrame = (f) => {
      const e = eventName(f);
      if (e.uuid !== uuid) return;
      if (e.name === 'CHANNEL_DESTROY') destroyed = true;
      if (e.name === 'CUSTOM' || wanted.has(e.name)) {
        events.push(toRaw(f));
        const key = e.subclass?.replace('mod_audio_stream::', '') ?? e.name;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      for (const w of waiters.splice(0)) w();
    };
    // Events that came in between (none are expected before the first command).
    for (const f of esl.events.splice(0)) esl.onEventFrame(f);
    const until = async (cond: () => boolean, timeoutMs: number): Promise<boolean> => {
      const deadline = Date.now() + timeoutMs;
      while (!cond()) {
        if (Date.now() > deadline) return false;
        await new Promise<void>((r) => { waiters.push(r); setTimeout(r, 20); });
      }
      return true;
    };
    const api = async (command: string) => {
      const text = command.replaceAll('${uuid}', uuid).replaceAll('${url}', url).replaceAll('${wav}', promptWav(dir));
      const reply = await esl.command(`api ${text}`, 10000);
      transcript.replies.push({ command, reply: reply.body.toString() });
    };
    for (const [k, v] of Object.entries(scenario.vars ?? {})) {
      const reply = await esl.command(`api uuid_setvar ${uuid} ${k} ${v}`, 5000);
      if (!reply.body.toString().startsWith('+OK')) throw new Error(`uuid_setvar ${k}: ${reply.body}`);
    }
    const latest = (): RecordedConnection | undefined => recorder?.connections.at(-1);
    for (const step of scenario.steps) {
      if ('api' in step) await api(step.api);
      else if ('sleep' in step) await new Promise((r) => setTimeout(r, step.sleep));
      else if ('event' in step) await until(() => (counts.get(step.event) ?? 0) >= (step.count ?? 1), step.timeoutMs ?? 5000);
      else if ('binaries' in step) {
        await until(() => (latest()?.messages.filter((m) => m.kind === 'binary').length ?? 0) >= step.binaries, step.timeoutMs ?? 10000);
      } else if ('serverSend' in step) latest()?.socket?.send(step.serverSend);
      else if ('serverClose' in step) latest()?.socket?.close(step.serverClose[0], step.serverClose[1]);
      else if ('hangup' in step) {
        await api('uuid_kill ${uuid}');
        await until(() => destroyed, 10000);
      }
    }
    if (!destroyed) {
      await esl.command(`api uuid_kill ${uuid}`, 10000);
      await until(() => destroyed, 10000);
    }
    // Let closes and late events arrive.
    await new Promise((r) => setTimeout(r, 400));
    await Promise.all((recorder?.connections ?? []).map((c) => Promise.race([c.ended, new Promise((r) => setTimeout(r, 2000))])));
    transcript.connections = (recorder?.connections ?? []).map(({ path, headers, messages, close, pings }) => ({ path, headers, messages, close, pings }));
  } finally {
    rtp?.close();
    // A scenario that failed half-way must not leave its call up (nor SIPp waiting for its BYE).
    if (transcript.uuid && !isDestroyed()) await esl.command(`api uuid_kill ${transcript.uuid}`, 5000).catch(() => undefined);
    esl.socket.destroy();
    transcript.sipp = await Promise.race([sipp, new Promise<undefined>((r) => setTimeout(() => r(undefined), 5000))]);
    await recorder?.close();
  }
  return transcript;
}

/** The WAV file played to callers (8 kHz mono, 5 s of a second test signal), written once per dir. */
function promptWav(dir: string): string {
  const path = join(dir, 'prompt-8k.wav');
  if (!existsSync(path)) writeFileSync(path, writeWav(testSignal(8000 * 5, 777, 4000), 8000, 1));
  return path;
}

function toRaw(f: EslFrame): RawEvent {
  return { headers: plainHeaderList(f), body: plainBody(f) };
}

/** Where fs_cli is, when FreeSWITCH is installed. */
export const FS_CLI = '/usr/local/freeswitch/bin/fs_cli';

/**
 * What `fs_cli -x <command>` prints against `target`: the real fs_cli when installed, else the
 * same request it sends (`api <command>` with `console_execute: true`) and what it prints (the
 * reply and a newline).
 */
export async function runCliCommands(target: Target, commands: string[]): Promise<Array<{ command: string; output: string }>> {
  const out: Array<{ command: string; output: string }> = [];
  if (existsSync(FS_CLI)) {
    const home = mkdtempSync(join(tmpdir(), 'fs-cli-home-'));
    for (const command of commands) {
      // An empty HOME: no ~/.fs_cli_conf of the machine's user changes what it prints.
      const r = spawnSync(FS_CLI, ['-H', '127.0.0.1', '-P', String(target.eslPort), '-p', target.eslPassword, '-x', command],
        { encoding: 'utf8', timeout: 10000, env: { ...process.env, HOME: home } });
      out.push({ command, output: r.stdout });
    }
    rmSync(home, { recursive: true, force: true });
    return out.map(hostnameOut);
  }
  const esl = await RawEsl.authed(target.eslPort, target.eslPassword);
  try {
    for (const command of commands) {
      esl.send(`api ${command}\nconsole_execute: true\n\n`);
      out.push({ command, output: `${(await esl.nextReply(10000)).body.toString()}\n` });
    }
  } finally {
    esl.close();
  }
  return out.map(hostnameOut);
}

/** `hostname` and `switchname` print the machine's name: a placeholder, so goldens hold on any machine. */
function hostnameOut(r: { command: string; output: string }): { command: string; output: string } {
  return r.output === `${hostname()}\n` ? { ...r, output: '<hostname>\n' } : r;
}
