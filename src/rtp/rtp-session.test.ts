import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { MediaClock } from '../channel/media-clock.ts';
import type { CodecName, NegotiatedMedia } from '../sdp/negotiated-media.ts';
import { buildDtmfPackets } from './dtmf.ts';
import { RtpParser } from './packet.ts';
import { PortAllocator } from './port-allocator.ts';
import { isAppError } from '../lib/errors.ts';
import { RtpSender } from './rtp-sender.ts';
import { RtpSession, type RtpSessionOptions } from './rtp-session.ts';
import { RtpTotals } from './source-latch.ts';
import { bestCorrelation, dominantFrequency, sine, toneLevelDbfs } from '../../test/helpers/audio.ts';

const HOST = '127.0.0.1';
const ports = new PortAllocator(41000, 41199);

const CODECS: Record<string, NegotiatedMedia['codec']> = {
  PCMU: { name: 'PCMU', payloadType: 0, clockRateHz: 8000, sampleRateHz: 8000, channels: 1 },
  PCMA: { name: 'PCMA', payloadType: 8, clockRateHz: 8000, sampleRateHz: 8000, channels: 1 },
  G722: { name: 'G722', payloadType: 9, clockRateHz: 8000, sampleRateHz: 16000, channels: 1 },
  L16_8: { name: 'L16', payloadType: 96, clockRateHz: 8000, sampleRateHz: 8000, channels: 1 },
  L16_16: { name: 'L16', payloadType: 97, clockRateHz: 16000, sampleRateHz: 16000, channels: 1 },
};

function media(codec: NegotiatedMedia['codec'], remotePort: number, extra: Partial<NegotiatedMedia> = {}): NegotiatedMedia {
  return { codec, telephoneEvent: { payloadType: 101, clockRateHz: 8000 }, ptimeMs: 20, direction: 'sendrecv', remote: { address: HOST, port: remotePort, family: 4 }, ...extra };
}

async function openSession(options: RtpSessionOptions): Promise<RtpSession> {
  const s = new RtpSession(options);
  await s.open();
  return s;
}

/** A UDP socket bound on an even free port (the OS picks; odd picks are retried). */
async function evenSquatter(): Promise<dgram.Socket> {
  for (;;) {
    const s = dgram.createSocket('udp4');
    s.bind(0, HOST);
    await once(s, 'listening');
    if (s.address().port % 2 === 0 && s.address().port < 65534) return s;
    s.close();
  }
}

async function waitFor(cond: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** Two sessions pointed at each other. */
async function pair(codec: NegotiatedMedia['codec'], a: Partial<RtpSessionOptions> = {}): Promise<[RtpSession, RtpSession]> {
  const sa = await openSession({ address: HOST, ports, media: media(codec, 9), ...a });
  const sb = await openSession({ address: HOST, ports, media: media(codec, sa.localPort) });
  sa.updateRemote(media(codec, sb.localPort));
  return [sa, sb];
}

/** A raw UDP socket on 127.0.0.1 (a test peer) and what it receives. */
async function rawPeer(): Promise<{ socket: dgram.Socket; port: number; got: Buffer[] }> {
  const socket = dgram.createSocket('udp4');
  const got: Buffer[] = [];
  socket.on('message', (m) => got.push(m));
  socket.bind(0, HOST);
  await once(socket, 'listening');
  return { socket, port: socket.address().port, got };
}

/** Sends `src` frame by frame from a to b, waiting for each packet, and collects b's pulled frames. */
async function stream(a: RtpSession, b: RtpSession, src: Int16Array, spf: number): Promise<Int16Array> {
  const out = new Int16Array(src.length);
  for (let off = 0; off + spf <= src.length; off += spf) {
    const before = b.stats.received;
    assert.equal(a.sendFrame(src.subarray(off, off + spf)), true);
    await waitFor(() => b.stats.received > before, 'a packet');
    const f = b.pullFrame();
    if (f) out.set(f, off);
  }
  return out;
}

/** A -6 dBFS 1 kHz tone with noise 26 dB below it, so that the correlation peak is unique (a pure tone repeats every period). */
function tone(rateHz: number, seconds: number): Int16Array {
  const x = sine(1000, rateHz, seconds, 0.5);
  let seed = 99;
  for (let i = 0; i < x.length; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    x[i] += ((seed >>> 16) % 1641) - 820;
  }
  return x;
}

/** Samples by which G.722's transmit and receive QMFs delay the signal (two 24-tap filters: 23 samples, minus the pairing). */
const G722_DELAY = 22;

/** Checks that `out` is `src` delayed by the 3 frames of playout delay: frequency, level, correlation, alignment. */
function assertSameTone(src: Int16Array, out: Int16Array, rateHz: number, spf: number, label: string, codecDelay = 0): void {
  const delayed = out.subarray(3 * spf);
  const ref = src.subarray(0, delayed.length);
  assert.ok(Math.abs(dominantFrequency(delayed, rateHz) - 1000) < 2, `${label}: frequency ${dominantFrequency(delayed, rateHz)}`);
  const levelDiff = toneLevelDbfs(delayed, 1000, rateHz) - toneLevelDbfs(ref, 1000, rateHz);
  assert.ok(Math.abs(levelDiff) < 1, `${label}: level off by ${levelDiff.toFixed(2)} dB`);
  const { lag, corr } = bestCorrelation(ref, delayed, 40);
  assert.ok(corr > 0.99, `${label}: correlation ${corr} at lag ${lag}`);
  assert.equal(lag, codecDelay, `${label}: lag`);
}

for (const key of ['PCMU', 'PCMA', 'G722', 'L16_8', 'L16_16']) {
  test(`a 1 kHz tone as ${key} over 127.0.0.1 arrives with its frequency, level and shape`, async () => {
    const codec = CODECS[key];
    const [a, b] = await pair(codec);
    try {
      const spf = codec.sampleRateHz / 50;
      const src = tone(codec.sampleRateHz, 0.6);
      const out = await stream(a, b, src, spf);
      assertSameTone(src, out, codec.sampleRateHz, spf, key, key === 'G722' ? G722_DELAY : 0);
      const s = b.stats;
      assert.deepEqual([s.received, s.lost, s.late, s.malformed, s.foreign, s.learning, s.stray, a.stats.sent], [30, 0, 0, 0, 0, 0, 0, 30]);
    } finally {
      a.close();
      b.close();
    }
  });
}

test('sequence and timestamp wrap during a call; G722\'s timestamp steps by 160 per 20 ms', async () => {
  const [a, b] = await pair(CODECS.G722, { initialSequenceNumber: 65530, initialTimestamp: 2 ** 32 - 800, ssrc: 77 });
  const peer = await rawPeer();
  try {
    const src = tone(16000, 0.6);
    const out = await stream(a, b, src, 320);
    assertSameTone(src, out, 16000, 320, 'wrap', G722_DELAY);
    assert.deepEqual([b.stats.lost, b.stats.late, b.stats.resyncs], [0, 0, 0]);
    // What a sends: look at its packets from a raw socket.
    a.updateRemote(media(CODECS.G722, peer.port));
    a.sendFrame(new Int16Array(320));
    a.sendFrame(new Int16Array(320));
    await waitFor(() => peer.got.length === 2, 'two packets');
    const p = new RtpParser();
    const h = peer.got.map((m) => (p.parse(m), { m: p.header.marker, seq: p.header.sequenceNumber, ts: p.header.timestamp, ssrc: p.header.ssrc }));
    assert.deepEqual(h, [{ m: true, seq: (65530 + 30) & 0xffff, ts: (2 ** 32 - 800 + 30 * 160) >>> 0, ssrc: 77 }, { m: false, seq: 25, ts: 4160, ssrc: 77 }]);
  } finally {
    a.close();
    b.close();
    peer.socket.close();
  }
});

test('the audio clocked by a MediaClock, as the owner drives it', async () => {
  const [a, b] = await pair(CODECS.PCMU);
  const clock = new MediaClock();
  try {
    const src = tone(8000, 0.6);
    const pulled: number[] = [];
    let i = 0;
    await new Promise<void>((resolve) => {
      const remove = clock.add(20, () => {
        if (i * 160 < src.length) a.sendFrame(src.subarray(i * 160, i * 160 + 160));
        const f = b.pullFrame();
        if (f) pulled.push(...f);
        if (++i >= src.length / 160 + 5) {
          remove();
          resolve();
        }
      });
    });
    // The clock may run late on a loaded machine; compare by content wherever the tone landed.
    const out = Int16Array.from(pulled);
    assert.ok(Math.abs(dominantFrequency(out, 8000) - 1000) < 2);
    const { corr } = bestCorrelation(src, out, 8 * 160);
    assert.ok(corr > 0.9, `correlation ${corr}`);
    assert.ok(b.stats.played >= 25, `played ${b.stats.played}`);
  } finally {
    a.close();
    b.close();
  }
});

test('SSRC change from the same source: the playout buffer restarts and the audio goes on', async () => {
  const peer = await rawPeer();
  const b = await openSession({ address: HOST, ports, media: media(CODECS.PCMU, peer.port) });
  try {
    const pkt = new Uint8Array(200);
    const payload = pkt.subarray(12);
    const src = sine(1000, 8000, 0.4, 0.5);
    const out: number[] = [];
    for (const ssrc of [1, 2]) {
      const s = new RtpSender(media(CODECS.PCMU, 9), { ssrc });
      for (let off = 0; off < src.length; off += 160) {
        const before = b.stats.received + b.stats.stray;
        peer.socket.send(pkt, 0, s.writePacket(src.subarray(off, off + 160), pkt, payload), b.localPort, HOST);
        await waitFor(() => b.stats.received + b.stats.stray > before, 'a packet');
        out.push(...b.pullFrame()!);
      }
    }
    assert.equal(b.stats.ssrcChanges, 1);
    assert.deepEqual([b.stats.late, b.stats.foreign, b.stats.stray], [0, 0, 3]);
    const tail = Int16Array.from(out.slice(-1600));
    assert.ok(Math.abs(dominantFrequency(tail, 8000) - 1000) < 2);
  } finally {
    b.close();
    peer.socket.close();
  }
});

test('strict RTP: a NAT\'d peer is learned from 4 consecutive packets and sent to; then other sources are dropped, counted and reported once each', async () => {
  const sdpTarget = await rawPeer(); // where the SDP says to send
  const real = await rawPeer(); // where the packets really come from (a NAT, say)
  const intruder = await rawPeer();
  const totals = new RtpTotals();
  const b = await openSession({ address: HOST, ports, media: media(CODECS.PCMU, sdpTarget.port), totals });
  const learned: string[] = [];
  const foreign: string[] = [];
  b.onSourceLearned = (address, port, signalled) => learned.push(`${address}:${port} ${signalled}`);
  b.onForeignSource = (address, port) => foreign.push(`${address}:${port}`);
  try {
    b.sendFrame(new Int16Array(160));
    await waitFor(() => sdpTarget.got.length === 1, 'a packet at the SDP address before learning');
    const send = (peer: dgram.Socket, s: RtpSender): void => {
      const pkt = new Uint8Array(200); // dgram reads it on a later tick
      peer.send(pkt, 0, s.writePacket(new Int16Array(160), pkt, pkt.subarray(12)), b.localPort, HOST);
    };
    const good = new RtpSender(media(CODECS.PCMU, 9), { ssrc: 10 });
    for (let i = 0; i < 3; i++) send(real.socket, good);
    await waitFor(() => b.stats.learning === 3, 'three packets of the run');
    assert.equal(b.stats.received, 0);
    assert.deepEqual(b.remote, { address: HOST, port: sdpTarget.port }, 'still the SDP\'s address');
    send(real.socket, good);
    await waitFor(() => b.stats.received === 1, 'the fourth packet, learned');
    assert.deepEqual(b.remote, { address: HOST, port: real.port });
    // The hijack: three packets with a new SSRC, then a steady stream.
    const bad = new RtpSender(media(CODECS.PCMU, 9), { ssrc: 66 });
    for (let i = 0; i < 40; i++) send(intruder.socket, bad);
    send(real.socket, good);
    await waitFor(() => b.stats.foreign === 40 && b.stats.received === 2, 'the intruder counted');
    const lastReceived = b.lastReceivedAt;
    send(intruder.socket, bad);
    await waitFor(() => b.stats.foreign === 41, 'one more');
    assert.equal(b.lastReceivedAt, lastReceived, 'a foreign packet is no sign of life of the call');
    b.sendFrame(new Int16Array(160));
    await waitFor(() => real.got.length === 1, 'a packet at the learned source');
    assert.equal(sdpTarget.got.length, 1);
    assert.equal(intruder.got.length, 0);
    assert.deepEqual(b.remote, { address: HOST, port: real.port });
    assert.deepEqual([b.stats.sourcesLearned, totals.foreign], [1, 41]);
    assert.deepEqual(learned, [`${HOST}:${real.port} false`]);
    assert.deepEqual(foreign, [`${HOST}:${intruder.port}`], 'reported once');
  } finally {
    b.close();
    for (const p of [sdpTarget, real, intruder]) p.socket.close();
  }
});

test('a change of the remote address by re-INVITE learns again: the new SDP address at once, the old source dropped', async () => {
  const first = await rawPeer();
  const moved = await rawPeer();
  const b = await openSession({ address: HOST, ports, media: media(CODECS.PCMU, first.port) });
  try {
    const send = (peer: dgram.Socket, s: RtpSender): void => {
      const pkt = new Uint8Array(200); // dgram reads it on a later tick
      peer.send(pkt, 0, s.writePacket(new Int16Array(160), pkt, pkt.subarray(12)), b.localPort, HOST);
    };
    const a = new RtpSender(media(CODECS.PCMU, 9), { ssrc: 1 });
    send(first.socket, a);
    await waitFor(() => b.stats.received === 1, 'the SDP\'s source, learned at once');
    b.updateRemote(media(CODECS.PCMU, first.port, { direction: 'sendonly' }));
    send(first.socket, a);
    await waitFor(() => b.stats.received === 2, 'the same address: nothing to learn');
    b.updateRemote(media(CODECS.PCMU, moved.port));
    assert.deepEqual(b.remote, { address: HOST, port: moved.port });
    send(moved.socket, new RtpSender(media(CODECS.PCMU, 9), { ssrc: 2 }));
    await waitFor(() => b.stats.received === 3, 'the new address');
    for (let i = 0; i < 5; i++) send(first.socket, a);
    await waitFor(() => b.stats.foreign === 5, 'the old source, foreign now');
    b.sendFrame(new Int16Array(160));
    await waitFor(() => moved.got.length === 1, 'sent to the new address');
    assert.deepEqual([first.got.length, b.stats.sourcesLearned, b.stats.ssrcChanges], [0, 2, 1]);
  } finally {
    b.close();
    first.socket.close();
    moved.socket.close();
  }
});

test('hold and resume: nothing sent while recvonly/inactive or to c=0.0.0.0; the marker on resume', async () => {
  const peer = await rawPeer();
  const m = media(CODECS.PCMU, peer.port);
  const b = await openSession({ address: HOST, ports, media: m, initialTimestamp: 1000 });
  try {
    assert.equal(b.sendFrame(new Int16Array(160)), true);
    for (const held of [{ direction: 'recvonly' }, { direction: 'inactive' }, { remote: { address: '0.0.0.0', port: peer.port, family: 4 } }] as Partial<NegotiatedMedia>[]) {
      b.updateRemote({ ...m, ...held });
      assert.equal(b.sendFrame(new Int16Array(160)), false);
    }
    b.updateRemote(m);
    assert.equal(b.sendFrame(new Int16Array(160)), true);
    await waitFor(() => peer.got.length === 2, 'two packets');
    const p = new RtpParser();
    p.parse(peer.got[1]);
    assert.deepEqual([p.header.marker, p.header.timestamp, p.header.sequenceNumber - (p.parse(peer.got[0]), p.header.sequenceNumber)], [true, 1000 + 4 * 160, 1]);
    assert.equal(b.stats.notSent, 3);
  } finally {
    b.close();
    peer.socket.close();
  }
});

test('RFC 4733 digits over the socket; junk counted; inactivity clock', async () => {
  const digits: [string, number][] = [];
  const peer = await rawPeer();
  const b = await openSession({ address: HOST, ports, media: media(CODECS.PCMU, peer.port), onDtmf: (d: string, ms: number) => digits.push([d, ms]) });
  try {
    const opened = b.lastReceivedAt;
    assert.equal(b.pullFrame(), null, 'nothing received yet');
    for (const p of buildDtmfPackets({ digit: '7', payloadType: 101, ssrc: 5, sequenceNumber: 100, timestamp: 999 })) peer.socket.send(p, b.localPort, HOST);
    peer.socket.send(Buffer.from('not rtp at all'), b.localPort, HOST);
    await waitFor(() => digits.length === 1 && b.stats.malformed === 1, 'a digit and a malformed packet');
    assert.deepEqual(digits, [['7', 100]]);
    assert.equal(b.stats.dtmfDigits, 1);
    assert.ok(b.lastReceivedAt > opened);
    assert.equal(b.pullFrame(), null, 'events are not audio');
  } finally {
    b.close();
    peer.socket.close();
  }
});

test('a codec change by re-INVITE mid-call', async () => {
  const [a, b] = await pair(CODECS.PCMU);
  try {
    await stream(a, b, sine(1000, 8000, 0.2), 160);
    a.updateRemote(media(CODECS.L16_16, b.localPort));
    b.updateRemote(media(CODECS.L16_16, a.localPort));
    const src = tone(16000, 0.4);
    const out = await stream(a, b, src, 320);
    assertSameTone(src, out, 16000, 320, 'after the change');
    assert.equal(b.media?.codec.name, 'L16');
  } finally {
    a.close();
    b.close();
  }
});

test('port allocation: skips a port in use, fails clearly when exhausted, close() is idempotent and gives the port back', async () => {
  const squatter = await evenSquatter(); // a port in use by another process
  const taken = squatter.address().port;
  const small = new PortAllocator(taken, taken + 3); // two even ports: `taken` and taken + 2
  const m = media(CODECS.PCMU, 9);
  try {
    const s1 = await openSession({ address: HOST, ports: small, media: m });
    assert.equal(s1.localPort, taken + 2);
    await assert.rejects(openSession({ address: HOST, ports: small, media: m }), (e: unknown) => isAppError(e, 'RTP_NO_PORT'));
    s1.close();
    s1.close();
    assert.equal(s1.sendFrame(new Int16Array(160)), false);
    assert.equal(s1.pullFrame(), null);
    await waitFor(() => small.available === 2, 'the port back');
    await assert.rejects(openSession({ address: '192.0.2.1', ports: small, media: m }), (e: unknown) => isAppError(e, 'RTP_BIND'));
    assert.equal(small.available, 2);
  } finally {
    squatter.close();
  }
});

test('opened before the media is known (to answer with our port), then given it; a fixed port; onDtmf set later', async () => {
  const peer = await rawPeer();
  const probe = await evenSquatter();
  const fixed = probe.address().port; // free again once the probe is closed
  await new Promise<void>((r) => probe.close(() => r()));
  const s = new RtpSession({ address: HOST, port: fixed });
  assert.equal(s.localPort, 0);
  await s.open();
  try {
    assert.equal(s.localPort, fixed);
    assert.equal(s.media, undefined);
    assert.equal(s.sendFrame(new Int16Array(160)), false);
    assert.equal(s.pullFrame(), null);
    peer.socket.send(Buffer.from('early'), fixed, HOST);
    await waitFor(() => s.stats.beforeMedia === 1, 'an early datagram');
    const digits: string[] = [];
    s.onDtmf = (d) => digits.push(d);
    s.updateRemote(media(CODECS.PCMU, peer.port));
    assert.equal(s.sendFrame(new Int16Array(160)), true);
    await waitFor(() => peer.got.length === 1, 'a packet');
    for (const p of buildDtmfPackets({ digit: 'A', payloadType: 101, ssrc: 5, sequenceNumber: 1, timestamp: 1 })) peer.socket.send(p, fixed, HOST);
    await waitFor(() => digits.length === 1, 'a digit');
    assert.deepEqual(digits, ['A']);
    const clash = new RtpSession({ address: HOST, port: fixed });
    await assert.rejects(clash.open(), (e: unknown) => isAppError(e, 'RTP_BIND'));
  } finally {
    s.close();
    peer.socket.close();
  }
  assert.throws(() => new RtpSession({ address: HOST }), RangeError);
  assert.throws(() => new RtpSession({ address: 'localhost', port: 5 }), RangeError);
});

test('IPv6: a session pair on ::1', async (t) => {
  const probe = dgram.createSocket('udp6');
  const ok = await new Promise<boolean>((resolve) => {
    probe.once('error', () => resolve(false));
    probe.bind(0, '::1', () => resolve(true));
  });
  probe.close();
  if (!ok) return t.skip('no ::1 here');
  const codec = CODECS.PCMU;
  const v6 = (port: number): NegotiatedMedia => ({ ...media(codec, port), remote: { address: '::1', port, family: 6 } });
  const a = await openSession({ address: '::1', ports, media: v6(9) });
  const b = await openSession({ address: '::1', ports, media: v6(a.localPort) });
  a.updateRemote(v6(b.localPort));
  try {
    const src = tone(8000, 0.3);
    assertSameTone(src, await stream(a, b, src, 160), 8000, 160, 'IPv6');
  } finally {
    a.close();
    b.close();
  }
});

// Type-level check that the sdp module's names are the ones the session takes.
const _codecName: CodecName = 'G722';
void _codecName;
