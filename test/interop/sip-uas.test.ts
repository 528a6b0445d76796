import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IncomingCall, TerminationReason } from '../../src/sip/dialog/call.ts';
import { SipUserAgent } from '../../src/sip/user-agent/user-agent.ts';

// Interop with SIPp (Debian package sip-tester): its built-in UAC over UDP and TCP, and a CANCEL scenario.
const CANCEL_SCENARIO = fileURLToPath(new URL('../fixtures/sip/sipp-uac-cancel.xml', import.meta.url));
const ANSWER_SDP = 'v=0\r\no=audio-stream 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n';

function requireSipp(): void {
  const found = spawnSync('sh', ['-c', 'command -v sipp'], { encoding: 'utf8' });
  if (found.status !== 0) throw new Error('sipp is not installed: apt-get install sip-tester (these interop tests never skip)');
}

interface SippResult {
  code: number | null;
  output: string;
  errors: string;
}

/** Binds UDP 127.0.0.1:port, resolving with the socket, or undefined when the port is taken. */
function tryBind(port: number): Promise<dgram.Socket | undefined> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.once('error', () => resolve(undefined));
    s.bind(port, '127.0.0.1', () => resolve(s));
  });
}

/** An even port p with p..p+3 free on 127.0.0.1 (SIPp's -mp media echo uses p, p+1 and p+2, p+3 for video). */
async function freeMediaPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 40000 + 4 * Math.floor(Math.random() * 5000);
    const sockets = await Promise.all([0, 1, 2, 3].map((i) => tryBind(base + i)));
    await Promise.all(sockets.map((s) => new Promise<void>((r) => (s ? s.close(() => r()) : r()))));
    if (sockets.every((s) => s !== undefined)) return base;
  }
  throw new Error('no free UDP port block for SIPp media');
}

/** Runs sipp against 127.0.0.1:port in a scratch directory (its -trace_err log lands there). */
async function runSipp(port: number, extra: string[]): Promise<SippResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sipp-'));
  const mediaPort = await freeMediaPort();
  const args = [`127.0.0.1:${port}`, '-i', '127.0.0.1', '-mi', '127.0.0.1', '-mp', String(mediaPort), '-p', String(mediaPort + 1500),
    '-m', '5', '-nostdin', '-timeout', '20s', '-trace_err', ...extra];
  return new Promise((resolve, reject) => {
    const child = spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const errors = readdirSync(dir).filter((f) => f.endsWith('errors.log')).map((f) => readFileSync(join(dir, f), 'utf8')).join('\n');
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, output: output.slice(-3000), errors: errors.slice(-3000) });
    });
  });
}

/** A tiny owner: answers every call with a fixed SDP (or only rings), records what happened. */
async function startOwner(mode: 'answer' | 'ring') {
  const ua = new SipUserAgent({ listen: { host: '127.0.0.1', port: 0 }, userAgent: 'audio-stream-interop' });
  const seen = { invites: 0, acks: 0, byes: 0, cancels: 0, terminated: [] as TerminationReason[] };
  ua.onInvite = (call: IncomingCall) => {
    seen.invites++;
    call.onAck = () => seen.acks++;
    call.onBye = () => seen.byes++;
    call.onCancel = () => seen.cancels++;
    call.onTerminated = (r) => seen.terminated.push(r);
    call.progress(180);
    if (mode === 'answer') call.answer(ANSWER_SDP);
    else setTimeout(() => call.answer(ANSWER_SDP), 5000).unref(); // too late: the CANCEL comes first
  };
  await ua.start();
  return { ua, seen };
}

function assertSippPassed(result: SippResult): void {
  assert.equal(result.code, 0, `sipp failed (exit ${result.code})\n${result.errors}\n${result.output}`);
}

test('SIPp built-in uac over UDP: 5 calls answered and hung up by BYE', { timeout: 30_000 }, async () => {
  requireSipp();
  const { ua, seen } = await startOwner('answer');
  try {
    assertSippPassed(await runSipp(ua.address.port, ['-sn', 'uac', '-t', 'u1']));
    assert.equal(seen.invites, 5);
    assert.equal(seen.acks, 5);
    assert.equal(seen.byes, 5);
    assert.deepEqual(seen.terminated, Array(5).fill('bye'));
    assert.equal(ua.stats.malformed, 0);
    assert.equal(ua.stats.calls, 0);
  } finally {
    await ua.close();
  }
});

test('SIPp built-in uac over TCP: 5 calls on one connection', { timeout: 30_000 }, async () => {
  requireSipp();
  const { ua, seen } = await startOwner('answer');
  try {
    assertSippPassed(await runSipp(ua.address.port, ['-sn', 'uac', '-t', 't1']));
    assert.equal(seen.invites, 5);
    assert.equal(seen.byes, 5);
    assert.equal(ua.stats.framingErrors, 0);
    assert.equal(ua.stats.retransmissions, 0, 'nothing retransmitted over TCP once ACKed promptly');
  } finally {
    await ua.close();
  }
});

test('SIPp CANCEL before answer: 200 to CANCEL, 487 to INVITE, ACK absorbed', { timeout: 30_000 }, async () => {
  requireSipp();
  const { ua, seen } = await startOwner('ring');
  try {
    assertSippPassed(await runSipp(ua.address.port, ['-sf', CANCEL_SCENARIO, '-t', 'u1']));
    assert.equal(seen.invites, 5);
    assert.equal(seen.cancels, 5);
    assert.deepEqual(seen.terminated, Array(5).fill('cancel'));
    assert.equal(ua.stats.dropped, 0, 'every ACK for a 487 matched its transaction');
  } finally {
    await ua.close();
  }
});
