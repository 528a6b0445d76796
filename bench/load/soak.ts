// The soak benchmark (`npm run bench -- --soak <minutes>`): the real `audio-stream serve` process
// for a long run of churned calls with everything a production box carries at once, and whether
// anything grows or is lost.
//
// - Calls: bench/load/soak-caller.ts keeps --soak-n (default 200) PCMU calls up, each 10-40 s long
//   and replaced when it ends, over SIP/UDP; every RTP packet carries its frame number.
// - Streams: the route answers and streams `mono 8k` with STREAM_PLAYBACK=true to the bot here.
// - Replies: the bot sends each stream, in turn on one 100 ms clock, a 200 ms binary reply every
//   ~3 s, a mark behind it, and a 100 ms raw `streamAudio` (a play file) every ~15 s.
// - ESL subscribers: 4 Event Socket clients on `event plain ALL` that read everything.
// - Every 10 s: the service's RSS and open descriptors (/proc/<pid>), its temp files, its /metrics.
//
// What it reports (a table and bench/results/soak-<date>.json): calls completed, failed and
// ended by the service; lost frames (a gap or repeat in the frame numbers the bot read back; the
// frames before a stream opens are not counted) and inserted ones (untagged between two
// consecutive numbers: silence played for an underrun); the callers' own lateness (packets sent
// 60 ms or more after due would be late for the service's playout buffer: the generator's fault, not
// the service's); RTP the callers missed; media ticks skipped; stream errors; the RSS and descriptor slope (least squares
// over the samples after the first 10 % of the run, per hour) and their range; temp files and
// channels left at the end.
import { spawn, fork } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { linearToUlaw } from '../../src/codec/g711.ts';
import { RESULTS_DIR, ROOT, formatTable, machineFacts, nextMessage, exited, round, sleep } from './harness.ts';
import { FRAME_TAG_BYTES, readFrameTag, type CallerStats } from './soak-caller.ts';

export interface SoakOptions {
  minutes: number;
  calls: number;
}

interface Sample {
  atSec: number;
  rssMiB: number;
  fds: number;
  tempFiles: number;
  channels: number;
  activeCalls: number;
}

/** Per stream, what the bot saw. */
interface StreamSeen {
  ws: WebSocket;
  metadataFirst: boolean;
  messages: number;
  lastFrame: number;
  lost: number;
  /** Untagged frames since the last tagged one: inserted (silence or concealment) if a tagged frame follows. */
  untagged: number;
  nextReplyAt: number;
  nextFileAt: number;
  marks: number;
  marksBack: number;
}

/** A 200 ms reply of a 600 Hz tone, L16 8 kHz (the stream's rate), and a 100 ms one as raw base64. */
function replies(): { binary: Buffer; streamAudio: string } {
  const tone = (ms: number) => {
    const b = Buffer.alloc(16 * ms);
    for (let i = 0; i < b.length / 2; i++) b.writeInt16LE(Math.round(4000 * Math.sin((2 * Math.PI * 600 * i) / 8000)), 2 * i);
    return b;
  };
  const streamAudio = JSON.stringify({ type: 'streamAudio', data: { audioDataType: 'raw', sampleRate: 8000, audioData: tone(100).toString('base64') } });
  return { binary: tone(200), streamAudio };
}

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** The value of one sample line of a Prometheus text (`name{labels} value`), summed over label sets. */
function metric(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** A raw Event Socket client on `event plain ALL` that reads and counts every event. */
function eslSubscriber(port: number): { socket: Socket; events: () => number } {
  const socket = connect(port, '127.0.0.1');
  let buf = Buffer.alloc(0);
  let events = 0;
  let authed = false;
  socket.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      const end = buf.indexOf('\n\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString();
      const length = Number(/Content-Length: (\d+)/i.exec(head)?.[1] ?? 0);
      if (buf.length < end + 2 + length) return;
      buf = buf.subarray(end + 2 + length);
      if (head.includes('auth/request')) socket.write('auth ClueCon\n\n');
      else if (!authed && head.includes('+OK accepted')) { authed = true; socket.write('event plain ALL\n\n'); }
      else if (head.includes('text/event-plain')) events++;
    }
  });
  socket.on('error', () => undefined);
  return { socket, events: () => events };
}

export async function runSoakBench(opts: SoakOptions, stamp: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'as-soak-'));
  const tempDir = join(dir, 'tmp');
  const { binary, streamAudio } = replies();

  // The bot: records each stream's frames, sends replies from one clock.
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const botPort = (wss.address() as { port: number }).port;
  const streams = new Set<StreamSeen>();
  const totals = { streams: 0, metadataFirst: 0, messages: 0, lost: 0, inserted: 0, replies: 0, files: 0, marks: 0, marksBack: 0, playEvents: 0 };
  const codes = new Uint8Array(FRAME_TAG_BYTES);
  wss.on('connection', (ws) => {
    const s: StreamSeen = {
      ws, metadataFirst: false, messages: 0, lastFrame: -1, lost: 0, untagged: 0,
      nextReplyAt: Date.now() + 1000 + Math.random() * 3000, nextFileAt: Date.now() + 5000 + Math.random() * 15000, marks: 0, marksBack: 0,
    };
    streams.add(s);
    totals.streams++;
    ws.on('message', (data, isBinary) => {
      const buf = data as Buffer;
      if (!isBinary) {
        const text = buf.toString();
        if (s.messages === 0 && text.startsWith('{"leg"')) { s.metadataFirst = true; totals.metadataFirst++; }
        else if (text.includes('"mark"')) { s.marksBack++; totals.marksBack++; }
        s.messages++;
        return;
      }
      s.messages++;
      totals.messages++;
      // Each 20 ms message is one caller frame: its first codes carry the frame number.
      for (let i = 0; i < FRAME_TAG_BYTES; i++) codes[i] = linearToUlaw(buf.readInt16LE(2 * i));
      const frame = readFrameTag(codes);
      // Frames before the caller's first packet and after its last are silence: only what lies
      // between two tagged frames counts. A jump in the numbers is lost audio (a repeat counts one);
      // untagged frames between consecutive numbers were inserted (an underrun played as silence).
      if (frame < 0) {
        if (s.lastFrame >= 0) s.untagged++;
        return;
      }
      if (s.lastFrame >= 0) {
        if (frame !== s.lastFrame + 1) {
          const missed = frame > s.lastFrame ? frame - s.lastFrame - 1 : 1;
          s.lost += missed;
          totals.lost += missed;
        }
        totals.inserted += Math.max(0, s.untagged - Math.max(0, frame - s.lastFrame - 1));
      }
      s.untagged = 0;
      s.lastFrame = frame;
    });
    ws.on('close', () => streams.delete(s));
    ws.on('error', () => undefined);
  });
  const replyClock = setInterval(() => {
    const now = Date.now();
    for (const s of streams) {
      if (s.ws.readyState !== s.ws.OPEN) continue;
      if (now >= s.nextReplyAt) {
        s.ws.send(binary);
        s.ws.send(JSON.stringify({ type: 'mark', data: { name: `m${s.marks++}` } }));
        totals.replies++;
        totals.marks++;
        s.nextReplyAt = now + 3000;
      }
      if (now >= s.nextFileAt) {
        s.ws.send(streamAudio);
        totals.files++;
        s.nextFileAt = now + 15000;
      }
    }
  }, 100);

  // The service: `audio-stream serve` with a config file, as an operator runs it.
  const config = join(dir, 'soak.yaml');
  writeFileSync(config, [
    'sip: { listen: "127.0.0.1:0" }',
    'esl: { listen: "127.0.0.1:0" }',
    'http: { listen: "127.0.0.1:0" }',
    'rtp: { address: 127.0.0.1, portMin: 20000, portMax: 24999, timeoutSec: 30 }',
    `tempDir: ${tempDir}`,
    'log: { level: notice }',
    'routes:',
    '  - actions:',
    '      - set: STREAM_PLAYBACK=true',
    '      - answer',
    `      - audio_stream: start ws://127.0.0.1:${botPort}/soak mono 8k {"leg":"\${sip_from_user}"}`,
    '      - park',
    '',
  ].join('\n'));
  const service = spawn(process.execPath, [join(ROOT, 'bin/audio-stream.js'), 'serve', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let serviceLog = '';
  service.stderr!.on('data', (d) => { serviceLog = (serviceLog + d).slice(-20000); });
  const ports = await new Promise<{ sip: number; esl: number; http: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${serviceLog}`)), 20000);
    service.stderr!.on('data', () => {
      const sip = /SIP listening on udp and tcp [\d.]+:(\d+)/.exec(serviceLog);
      const other = /Event Socket listening on [\d.]+:(\d+); HTTP API on http:\/\/[\d.]+:(\d+)/.exec(serviceLog);
      if (sip && other) { clearTimeout(timer); resolve({ sip: Number(sip[1]), esl: Number(other[1]), http: Number(other[2]) }); }
    });
    service.once('exit', (code) => { clearTimeout(timer); reject(new Error(`serve exited ${code}: ${serviceLog}`)); });
  });
  const pid = service.pid!;
  const subscribers = Array.from({ length: 4 }, () => eslSubscriber(ports.esl));

  const rssMiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  const fds = () => readdirSync(`/proc/${pid}/fd`).length;
  const tempFiles = () => { try { return readdirSync(tempDir).length; } catch { return 0; } };
  const metrics = async () => (await fetch(`http://127.0.0.1:${ports.http}/metrics`)).text();
  await sleep(500);
  const baseline = { rssMiB: rssMiB(), fds: fds() };

  const seconds = Math.round(opts.minutes * 60);
  const caller = fork(join(ROOT, 'bench/load/soak-caller.ts'),
    ['--sip', `127.0.0.1:${ports.sip}`, '--n', String(opts.calls), '--seconds', String(seconds)],
    { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let callerStats: CallerStats | undefined;
  caller.on('message', (m: CallerStats & { type: string }) => { if (m.type === 'stats' || m.type === 'done') callerStats = m; });
  await nextMessage(caller, 'ready', 20000);
  process.stdout.write(`soak: ${opts.calls} churned calls for ${opts.minutes} min against audio-stream serve (pid ${pid}); a line every minute\n`);
  caller.send({ type: 'start' });

  const samples: Sample[] = [];
  const t0 = Date.now();
  let nextPrint = 60;
  while (Date.now() - t0 < seconds * 1000) {
    await sleep(10000);
    const text = await metrics();
    const s: Sample = {
      atSec: Math.round((Date.now() - t0) / 1000), rssMiB: round(rssMiB(), 1), fds: fds(), tempFiles: tempFiles(),
      channels: metric(text, 'audio_stream_channels'), activeCalls: callerStats?.active ?? 0,
    };
    samples.push(s);
    if (s.atSec >= nextPrint) {
      nextPrint += 60;
      process.stdout.write(`  ${Math.round(s.atSec / 60)} min: ${s.channels} channels, RSS ${s.rssMiB} MiB, ${s.fds} fds, ${s.tempFiles} temp files, `
        + `${callerStats?.completed ?? 0} calls done, ${totals.lost} frames lost, ${metric(text, 'audio_stream_media_clock_skipped_ticks_total')} ticks skipped\n`);
    }
  }
  const done = nextMessage<CallerStats>(caller, 'done', 60000);
  caller.send({ type: 'stop' });
  callerStats = await done;
  // Streams close with their calls; give the service a moment to delete the play files.
  const settleBy = Date.now() + 15000;
  while (Date.now() < settleBy && (streams.size > 0 || tempFiles() > 0)) await sleep(200);
  await sleep(1000);
  const finalText = await metrics();
  const end = {
    rssMiB: round(rssMiB(), 1), fds: fds(), tempFiles: tempFiles(), channels: metric(finalText, 'audio_stream_channels'),
    skippedTicks: metric(finalText, 'audio_stream_media_clock_skipped_ticks_total'),
    streamErrors: metric(finalText, 'audio_stream_stream_errors_total'),
    messagesDropped: metric(finalText, 'audio_stream_messages_dropped_total'),
    eslEvents: subscribers.reduce((a, s) => a + s.events(), 0),
  };
  clearInterval(replyClock);
  for (const s of subscribers) s.socket.destroy();
  caller.send({ type: 'exit' });
  await exited(caller, 5000);
  service.kill('SIGTERM');
  await exited(service, 10000);
  await new Promise<void>((r) => wss.close(() => r()));
  rmSync(dir, { recursive: true, force: true });

  const steady = samples.filter((s) => s.atSec >= seconds * 0.1);
  const hours = steady.map((s) => s.atSec / 3600);
  const rssSlope = slope(hours, steady.map((s) => s.rssMiB));
  const fdSlope = slope(hours, steady.map((s) => s.fds));
  const range = (xs: number[]) => (xs.length ? `${Math.min(...xs)}-${Math.max(...xs)}` : '-');
  const c = callerStats!;
  const rows: string[][] = [
    ['calls completed / failed / ended by the service', `${c.completed} / ${c.failed} / ${c.endedByService}`],
    ['failures by reason', Object.entries(c.failures).map(([k, v]) => `${k}: ${v}`).join(', ') || '-'],
    ['most calls up at once', String(c.maxActive)],
    ['frames streamed / lost (a gap or repeat in the numbers) / silence inserted', `${totals.messages} / ${totals.lost} / ${totals.inserted}`],
    ['streams / metadata first', `${totals.streams} / ${totals.metadataFirst}`],
    ['RTP packets sent / received by the callers / missing in what came back', `${c.packetsSent} / ${c.packetsReceived} / ${c.receivedGaps}`],
    ['callers\' packets sent 60+ ms after due (late for the playout buffer) / latest, ms', `${c.lateSends} / ${round(c.maxLateMs, 1)}`],
    ['replies / marks sent / marks answered / play files', `${totals.replies} / ${totals.marks} / ${totals.marksBack} / ${totals.files}`],
    ['media ticks skipped / stream errors / audio messages dropped', `${end.skippedTicks} / ${end.streamErrors} / ${end.messagesDropped}`],
    ['ESL events read by 4 subscribers', String(end.eslEvents)],
    ['RSS MiB: start / steady range / end; slope MiB per hour', `${round(baseline.rssMiB, 1)} / ${range(steady.map((s) => s.rssMiB))} / ${end.rssMiB}; ${rssSlope.toFixed(2)}`],
    ['descriptors: start / steady range / end; slope per hour', `${baseline.fds} / ${range(steady.map((s) => s.fds))} / ${end.fds}; ${fdSlope.toFixed(2)}`],
    ['temp files: most during the run / at the end', `${Math.max(0, ...samples.map((s) => s.tempFiles))} / ${end.tempFiles}`],
    ['channels at the end', String(end.channels)],
  ];
  process.stdout.write(`\nSoak: ${opts.calls} churned calls, ${opts.minutes} min\n${formatTable(['', 'value'], rows, 1)}\n`);
  if (c.skippedTicks) process.stdout.write(`note: the callers' own clock skipped ${c.skippedTicks} times (limited by the generator)\n`);
  const report = {
    bench: 'soak', stamp, machine: machineFacts(), options: opts, caller: c, bot: totals, baseline, end,
    slopes: { rssMiBPerHour: round(rssSlope, 3), fdsPerHour: round(fdSlope, 3) }, samples,
  };
  const file = join(RESULTS_DIR, `soak-${stamp}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`wrote ${file}\n`);
}
