// SIP over TCP under attack (issue 10, item 3): `audio-stream serve` with sip.tcp bounds, 500 slowloris
// connections from 127.0.0.3 trickling one byte per second, 600 idle ones from 127.0.0.4, and real
// SIPp calls over TCP and UDP from 127.0.0.1 meanwhile. Fixed ports (SIPp, RTP) lie in 26300-26399.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, binaries, type TestServer } from '../helpers/harness.ts';
import { startServe, writeServeConfig } from '../helpers/serve-process.ts';
import { runSipp, requireProgram, streamScenario } from '../helpers/sipp.ts';
import { writeUlawTone } from '../helpers/audio.ts';

const dir = mkdtempSync(join(tmpdir(), 'as-tcp-limits-'));
const ulaw = join(dir, 'tone440.ulaw');
let ws: TestServer;

before(async () => {
  requireProgram('sipp');
  writeUlawTone(ulaw, 440, 4, 0.4);
  ws = await startTestServer();
});
after(async () => {
  await ws.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Conn {
  socket: net.Socket;
  firstByteAt: number | undefined;
  closedAt: number | undefined;
}

/** Opens `n` TCP connections from `localAddress`, 50 at a time (the listen backlog is finite). */
async function openMany(port: number, localAddress: string, n: number): Promise<Conn[]> {
  const conns: Conn[] = [];
  for (let i = 0; i < n; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => new Promise<void>((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port, localAddress });
      const conn: Conn = { socket, firstByteAt: undefined, closedAt: undefined };
      socket.on('error', () => {});
      socket.on('close', () => { conn.closedAt ??= performance.now(); });
      socket.once('connect', () => { conns.push(conn); resolve(); });
      socket.once('error', reject);
    })));
  }
  return conns;
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('500 slowloris and 600 idle TCP connections: calls over TCP and UDP still complete; the slowloris are closed after the header deadline, the idle ones over the per-source bound at once', { timeout: 180_000 }, async () => {
  const file = writeServeConfig(join(dir, 'serve.yaml'), {
    rtpPortMin: 26300, rtpPortMax: 26339, tempDir: join(dir, 'tmp'),
    routes: `
  - actions:
      - answer
      - audio_stream: start ${ws.url}/probe mono 16k {"uuid":"\${uuid}"}
      - park`,
  });
  writeFileSync(file, readFileSync(file, 'utf8').replace('sip: { listen: "127.0.0.1:0" }',
    'sip: { listen: "127.0.0.1:0", tcp: { maxConnections: 1500, maxConnectionsPerSource: 500, headerTimeoutMs: 5000 } }'));
  const svc = await startServe(['--config', file]);
  const all: Conn[] = [];
  let trickle: NodeJS.Timeout | undefined;
  try {
    const slow = await openMany(svc.sipPort, '127.0.0.3', 500);
    all.push(...slow);
    const header = Buffer.from(`INVITE sip:stream@127.0.0.1:${svc.sipPort} SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.3:5060;branch=z9hG4bK-slow\r\nX-Pad: ${'p'.repeat(200)}`);
    let offset = 0;
    const drip = () => {
      const t = performance.now();
      for (const c of slow) {
        if (c.closedAt !== undefined) continue;
        c.firstByteAt ??= t;
        c.socket.write(header.subarray(offset % header.length, (offset % header.length) + 1));
      }
      offset++;
    };
    drip();
    trickle = setInterval(drip, 1000);
    const idle = await openMany(svc.sipPort, '127.0.0.4', 600);
    all.push(...idle);
    await until(() => idle.filter((c) => c.closedAt !== undefined).length >= 100, 15_000, 'the connections over the per-source bound closed');
    assert.ok(slow.every((c) => c.closedAt === undefined), 'the probes start while every slowloris connection is open');

    const conns = [ws.nextConnection(), ws.nextConnection()];
    const [udp, tcp] = await Promise.all([
      runSipp({ dir, name: 'probe-udp', scenario: streamScenario(ulaw, 1500), target: `127.0.0.1:${svc.sipPort}`, service: 'stream-udp',
        transport: 'u1', localPort: 26340, mediaPort: 26370, timeoutSec: 30 }),
      runSipp({ dir, name: 'probe-tcp', scenario: streamScenario(ulaw, 1500), target: `127.0.0.1:${svc.sipPort}`, service: 'stream-tcp',
        transport: 't1', localPort: 26350, mediaPort: 26380, timeoutSec: 30 }),
    ]);
    assert.equal(udp.code, 0, `the UDP call completed: ${udp.stdout.slice(-1500)}${udp.stderr.slice(-1500)}`);
    assert.equal(tcp.code, 0, `the TCP call completed: ${tcp.stdout.slice(-1500)}${tcp.stderr.slice(-1500)}`);
    for (const conn of conns) {
      const audio = Buffer.concat(binaries(await conn));
      assert.ok(audio.length >= 32000, `each call streamed at least 1 s of audio (${audio.length} bytes)`);
    }

    await until(() => slow.every((c) => c.closedAt !== undefined), 30_000, 'every slowloris connection closed');
    clearInterval(trickle);
    const early = slow.filter((c) => c.closedAt! - c.firstByteAt! < 4995);
    assert.equal(early.length, 0, `none closed before the 5 s header deadline (${early.length} did)`);
    assert.equal(idle.filter((c) => c.closedAt !== undefined).length, 100, 'the 500 idle connections within the bound stay open');

    // The log: one warning for the first close of the burst, then summaries by kind every 10 s.
    const tally = () => {
      const lines = svc.output().split('\n').filter((l) => /TCP connection|tcp 127\.0\.0\.[34]/.test(l));
      const counts: Record<string, number> = {};
      const first = lines[0] ?? '';
      const firstKind = /maxConnectionsPerSource \(500\) reached/.test(first) ? 'over sip.tcp.maxConnectionsPerSource'
        : /header block took longer than sip\.tcp\.headerTimeoutMs/.test(first) ? 'past sip.tcp.headerTimeoutMs' : 'other';
      counts[firstKind] = 1;
      for (const line of lines.slice(1)) {
        const m = /closed \d+ TCP connections in the last 10 s: (.*)$/.exec(line);
        for (const part of (m?.[1] ?? 'unexpected line').split(', ')) {
          const [n, ...kind] = part.split(' ');
          counts[kind.join(' ')] = (counts[kind.join(' ')] ?? 0) + Number(n);
        }
      }
      return { lines, counts };
    };
    await until(() => (tally().counts['past sip.tcp.headerTimeoutMs'] ?? 0) >= 500, 40_000, 'the burst summaries');
    const { lines, counts } = tally();
    assert.deepEqual(counts, { 'over sip.tcp.maxConnectionsPerSource': 100, 'past sip.tcp.headerTimeoutMs': 500 }, lines.join('\n'));
    assert.ok(lines.length <= 3, `logged once per burst, not per connection:\n${lines.join('\n')}`);
  } finally {
    clearInterval(trickle);
    for (const c of all) c.socket.destroy();
    await svc.stop();
  }
});
