// A SIP call as a channel, driven for real: a SipUserAgent on the in-memory SIP transport and a
// FakeClock, a real RtpSession on 127.0.0.1, a UDP socket playing the phone's RTP side, and a
// MediaClock on its own FakeClock so that each `advance(20)` is one media tick.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { EventBus } from '../events/bus.ts';
import type { FsEvent } from '../events/event.ts';
import { ChannelRegistry } from '../channel/registry.ts';
import { MediaClock } from '../channel/media-clock.ts';
import type { FrameFormat, MediaBug } from '../bug/media-bug.ts';
import { RtpSession, PortAllocator, buildDtmfPackets, writeRtpHeader } from '../rtp/index.ts';
import { ulawDecode } from '../codec/g711.ts';
import type { IncomingCall } from '../sip/dialog/call.ts';
import { FakeClock } from '../../test/helpers/fake-clock.ts';
import { parseSent, sentStatuses, sipRequest, startTestUa, type RequestSpec, type TestUa } from '../../test/helpers/sip/test-kit.ts';
import { SipCall } from './sip-call.ts';
import { addLogSink } from '../lib/logger.ts';
import { FS_PARK_CALL, NOT_FILLED, headerNames } from '../channel/fs-event-headers.test-data.ts';

const HOST = '127.0.0.1';
/** RTP ports of this file only (rtp-session.test.ts uses 41000-41199, the interop tests 31000-38400). */
const ports = new PortAllocator(42200, 42399);

/** The phone's RTP side: a UDP socket on 127.0.0.1 that keeps every datagram. */
interface Phone {
  socket: dgram.Socket;
  port: number;
  packets: Array<{ data: Buffer; from: { address: string; port: number } }>;
  /** Resolves once `n` datagrams have arrived in all. */
  received(n: number): Promise<void>;
  send(data: Uint8Array, port: number): Promise<void>;
}

async function openPhone(): Promise<Phone> {
  const socket = dgram.createSocket('udp4');
  const packets: Phone['packets'] = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  socket.on('message', (data, rinfo) => {
    packets.push({ data, from: { address: rinfo.address, port: rinfo.port } });
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (packets.length >= waiters[i]!.n) waiters.splice(i, 1)[0]!.resolve();
    }
  });
  socket.bind(0, HOST);
  await once(socket, 'listening');
  return {
    socket, port: socket.address().port, packets,
    received: (n) => (packets.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }))),
    send: (data, port) => new Promise((resolve, reject) => socket.send(data, port, HOST, (err) => (err ? reject(err) : resolve()))),
  };
}

/** An SDP offer from the phone: its RTP port, the payload types and their rtpmap lines. */
function offerSdp(port: number, formats: string, rtpmaps: string[], extra: string[] = []): string {
  return ['v=0', 'o=phone 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} RTP/AVP ${formats}`,
    ...rtpmaps.map((m) => `a=rtpmap:${m}`), ...extra, 'a=sendrecv', ''].join('\r\n');
}

const pcmuOffer = (port: number): string => offerSdp(port, '0 101', ['0 PCMU/8000', '101 telephone-event/8000'], ['a=fmtp:101 0-16', 'a=ptime:20']);
const g722Offer = (port: number): string => offerSdp(port, '9 101', ['9 G722/8000', '101 telephone-event/8000'], ['a=fmtp:101 0-16', 'a=ptime:20']);

/** A media bug that records its frames (copied: the buffers are reused), format changes and close. */
class RecordingBug implements MediaBug {
  readonly name = 'recorder';
  readonly frames: Array<{ read: Int16Array | null; write: Int16Array | null; dueMs: number }> = [];
  readonly formats: FrameFormat[] = [];
  readonly digits: string[] = [];
  closes = 0;
  onFrame(read: Int16Array | null, write: Int16Array | null, dueMs: number): void {
    this.frames.push({ read: read && read.slice(), write: write && write.slice(), dueMs });
  }
  onDtmf(digit: string, durationMs: number): void {
    this.digits.push(`${digit}/${durationMs}`);
  }
  onFormatChange(format: FrameFormat): void {
    this.formats.push(format);
  }
  onChannelClose(): void {
    this.closes++;
  }
}

interface CallSetup extends TestUa {
  sipCall: SipCall;
  incoming: IncomingCall;
  rtp: RtpSession;
  phone: Phone;
  mediaTime: FakeClock;
  mediaClock: MediaClock;
  channels: ChannelRegistry;
  events: FsEvent[];
  /** Sends an in-dialog request from the phone (our To tag, the next CSeq). */
  inDialog(spec: Partial<RequestSpec> & { method: string }): void;
  /** ACKs the last 2xx we sent to an INVITE (optionally with an SDP answer). */
  ackLast(body?: string): void;
  /** Our To tag (known once we answered). */
  toTag(): string;
}

/** An INVITE from the phone (offer from `offer(phonePort)`, or none) handed to a new SipCall in onInvite. */
async function startCall(
  t: TestContext, opts: { offer?: ((phonePort: number) => string) | null; headers?: string[]; contact?: string; rtpTimeoutSec?: number } = {},
): Promise<CallSetup> {
  const kit = await startTestUa({ closeGraceMs: 0 });
  const mediaTime = new FakeClock();
  const mediaClock = new MediaClock(mediaTime);
  const bus = new EventBus();
  const channels = new ChannelRegistry(bus);
  const events: FsEvent[] = [];
  bus.subscribe((e) => events.push(e));
  const rtp = new RtpSession({ address: HOST, ports });
  await rtp.open();
  const phone = await openPhone();
  let sipCall: SipCall | undefined;
  let incoming: IncomingCall | undefined;
  kit.ua.onInvite = (call) => {
    incoming = call;
    sipCall = new SipCall(channels, mediaClock, call, rtp, { rtpAddress: HOST, advertisedAddress: HOST, rtpTimeoutSec: opts.rtpTimeoutSec ?? 0 });
  };
  t.after(async () => {
    sipCall?.channel.hangup();
    rtp.close();
    phone.socket.close();
    await kit.ua.close();
  });
  const offer = opts.offer === undefined ? pcmuOffer : opts.offer;
  kit.transport.inject(sipRequest({ method: 'INVITE', body: offer ? offer(phone.port) : undefined, headers: opts.headers, contact: opts.contact }));
  assert.ok(sipCall && incoming, 'onInvite made the SipCall');
  let seq = 1;
  const toTag = (): string => {
    const ok = kit.transport.sent.find((m) => /^SIP\/2\.0 (18\d|200)/.test(m.text));
    assert.ok(ok, 'a response with our To tag was sent');
    return parseSent(ok.text).to.params.get('tag')!;
  };
  return {
    ...kit, sipCall, incoming, rtp, phone, mediaTime, mediaClock, channels, events, toTag,
    inDialog: (spec) => {
      seq++;
      kit.transport.inject(sipRequest({ toTag: toTag(), cseq: seq, branch: `z9hG4bK-${spec.method.toLowerCase()}-${seq}`, ...spec }));
    },
    ackLast: (body) => {
      const oks = kit.transport.sentStarting('SIP/2.0 200').map((m) => parseSent(m.text)).filter((m) => m.cseq.method === 'INVITE');
      const ok = oks.at(-1);
      assert.ok(ok, 'a 2xx to an INVITE was sent');
      kit.transport.inject(sipRequest({ method: 'ACK', toTag: ok.to.params.get('tag')!, cseq: ok.cseq.seq, branch: `z9hG4bK-ack-${ok.cseq.seq}`, body }));
    },
  };
}

/** The body of the last response sent with this status. */
function lastResponse(c: CallSetup, status: number): { text: string; body: string; cseq: string } {
  const sent = c.transport.sentStarting(`SIP/2.0 ${status}`).at(-1);
  assert.ok(sent, `a ${status} was sent`);
  const msg = parseSent(sent.text);
  return { text: sent.text, body: msg.bodyText, cseq: `${msg.cseq.seq} ${msg.cseq.method}` };
}

/** Our SDP answer, exactly, for one codec line set (the session id is ours, read from the o= line). */
function expectedAnswer(body: string, rtpPort: number, version: number, formats: string, lines: string[]): string {
  const sid = /^o=audio-stream (\d+) /m.exec(body)?.[1];
  assert.ok(sid, `an o= line in\n${body}`);
  return ['v=0', `o=audio-stream ${sid} ${version} IN IP4 127.0.0.1`, 's=audio-stream', 'c=IN IP4 127.0.0.1', 't=0 0',
    `m=audio ${rtpPort} RTP/AVP ${formats}`, ...lines, ''].join('\r\n');
}

/** RTP header fields of a datagram. */
function rtpOf(data: Buffer): { version: number; marker: boolean; pt: number; seq: number; ts: number; ssrc: number; payload: Buffer } {
  return {
    version: data[0]! >> 6, marker: (data[1]! & 0x80) !== 0, pt: data[1]! & 0x7f,
    seq: data.readUInt16BE(2), ts: data.readUInt32BE(4), ssrc: data.readUInt32BE(8), payload: data.subarray(12),
  };
}

/** Resolves with the next event of this name fired on the bus (or one already collected after `from`). */
function nextEvent(c: CallSetup, name: string, from = c.events.length): Promise<FsEvent> {
  return new Promise((resolve) => {
    const found = c.events.slice(from).find((e) => e.name === name);
    if (found) return resolve(found);
    const bus = c.channels.bus;
    const off = bus.subscribe((e) => {
      if (e.name !== name) return;
      off();
      resolve(e);
    });
  });
}

/** A call negotiated, answered and ACKed, with a recording bug on its channel. */
async function answeredCall(t: TestContext) {
  const c = await startCall(t);
  const ch = c.sipCall.channel;
  const bug = new RecordingBug();
  ch.addBug(bug);
  c.sipCall.negotiate();
  ch.answer();
  c.ackLast();
  return { c, ch, bug };
}

test('negotiate() with a PCMU offer answers PCMU; the channel has the call\'s variables and codec', async (t) => {
  const c = await startCall(t, { headers: ['X-Tenant: acme'] });
  const ch = c.sipCall.channel;
  assert.equal(c.channels.get(ch.uuid), ch);
  assert.deepEqual(c.events.map((e) => e.name), ['CHANNEL_STATE', 'CHANNEL_STATE', 'CHANNEL_CREATE']);
  assert.equal(ch.name, 'sofia/internal/alice@192.0.2.10:5062');
  assert.equal(c.sipCall.negotiate(), true, 'negotiated before CHANNEL_CREATE');
  assert.equal(c.events[2]!.get('variable_read_codec'), 'PCMU', 'CHANNEL_CREATE carries the SDP\'s variables');
  assert.deepEqual(ch.codec, { name: 'PCMU', rateHz: 8000, ptimeMs: 20 });
  assert.equal(ch.getVariable('read_codec'), 'PCMU');
  assert.equal(ch.getVariable('read_rate'), '8000');
  assert.deepEqual(c.rtp.remote, { address: HOST, port: c.phone.port }, 'RTP goes to the offer\'s address');
  assert.equal(c.rtp.media?.codec.name, 'PCMU');
  assert.equal(c.rtp.media?.telephoneEvent?.payloadType, 101);
  const v = (n: string): string | undefined => ch.getVariable(n);
  assert.equal(v('sip_call_id'), 'call-1@192.0.2.10');
  assert.equal(v('sip_from_user'), 'alice');
  assert.equal(v('sip_from_host'), '192.0.2.10');
  assert.equal(v('sip_to_user'), 'service');
  assert.equal(v('sip_req_user'), 'service');
  assert.equal(v('sip_network_ip'), '192.0.2.10');
  assert.equal(v('sip_network_port'), '5062');
  assert.equal(v('sip_via_protocol'), 'udp');
  assert.equal(v('sip_h_X-Tenant'), 'acme');
  assert.equal(v('caller_id_number'), 'alice');
  assert.equal(v('caller_id_name'), 'Alice');
  assert.equal(v('destination_number'), 'service');
  assert.equal(ch.caller.networkAddr, '192.0.2.10');
  assert.equal(ch.caller.source, 'mod_sofia');
  assert.equal(ch.caller.context, 'default');
  assert.deepEqual(sentStatuses(c.transport), [100], 'negotiating sends nothing');
  assert.equal(c.mediaClock.size, 0, 'no media before (pre-)answer');
});

test('negotiate() with a PCMA offer at 30 ms switches the channel codec', async (t) => {
  const c = await startCall(t, { offer: (port) => offerSdp(port, '8', ['8 PCMA/8000'], ['a=ptime:30']) });
  const ch = c.sipCall.channel;
  assert.equal(c.sipCall.negotiate(), true);
  assert.deepEqual(ch.codec, { name: 'PCMA', rateHz: 8000, ptimeMs: 30 });
  assert.equal(ch.getVariable('read_codec'), 'PCMA');
  assert.equal(ch.getVariable('rtp_use_codec_ptime'), '30');
  assert.equal(ch.getVariable('dtmf_type'), 'info', 'no telephone-event: SIP INFO');
  const bug = new RecordingBug();
  ch.addBug(bug);
  ch.setCodec({ name: 'PCMA', rateHz: 8000, ptimeMs: 20 });
  assert.deepEqual(bug.formats, [{ name: 'PCMA', rateHz: 8000, ptimeMs: 20 }], 'a ptime change reaches the bug');
  assert.equal(ch.answer(), true);
  const ok = lastResponse(c, 200);
  assert.equal(ok.body, expectedAnswer(ok.body, c.rtp.localPort, 1, '8', ['a=rtpmap:8 PCMA/8000', 'a=ptime:30', 'a=sendrecv']));
});

test('an offer with no common codec: negotiate() is false; hanging up INCOMPATIBLE_DESTINATION answers 488', async (t) => {
  const c = await startCall(t, { offer: (port) => offerSdp(port, '18', ['18 G729/8000']) });
  const ch = c.sipCall.channel;
  assert.equal(c.sipCall.negotiate(), false);
  assert.deepEqual(ch.codec, { name: 'PCMU', rateHz: 8000, ptimeMs: 20 }, 'codec untouched');
  assert.equal(ch.answer(), false, 'nothing to answer with');
  assert.equal(ch.preAnswer(), false);
  assert.equal(ch.answerState, 'ringing');
  assert.deepEqual(sentStatuses(c.transport), [100]);
  ch.hangup('INCOMPATIBLE_DESTINATION');
  assert.deepEqual(sentStatuses(c.transport), [100, 488]);
  assert.equal(c.incoming.state, 'terminated');
  assert.deepEqual(c.events.filter((e) => !e.name.startsWith('CHANNEL_STATE') && e.name !== 'CHANNEL_CALLSTATE')
    .map((e) => [e.name, e.get('Hangup-Cause') ?? '']), [
    ['CHANNEL_CREATE', ''], ['CHANNEL_HANGUP', 'INCOMPATIBLE_DESTINATION'],
    ['CHANNEL_HANGUP_COMPLETE', 'INCOMPATIBLE_DESTINATION'], ['CHANNEL_DESTROY', 'INCOMPATIBLE_DESTINATION'],
  ]);
  assert.equal(c.events.find((e) => e.name === 'CHANNEL_DESTROY')!.get('variable_sip_hangup_disposition'), 'send_refuse');
  assert.equal(c.rtp.sendFrame(new Int16Array(160)), false, 'the RTP session was closed');
});

test('channel.answer() sends 200 with our SDP answer and starts the media tick; preAnswer() sends 183 with it', async (t) => {
  const c = await startCall(t);
  const ch = c.sipCall.channel;
  assert.deepEqual(sentStatuses(c.transport), [100]);
  assert.equal(c.sipCall.negotiate(), true);
  assert.equal(ch.preAnswer(), true);
  assert.deepEqual(sentStatuses(c.transport), [100, 183]);
  const early = lastResponse(c, 183);
  const answerLines = ['a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-15', 'a=ptime:20', 'a=sendrecv'];
  assert.equal(early.body, expectedAnswer(early.body, c.rtp.localPort, 1, '0 101', answerLines));
  assert.equal(c.mediaClock.size, 1, 'early media ticks');
  assert.equal(ch.answer(), true);
  assert.deepEqual(sentStatuses(c.transport), [100, 183, 200]);
  const ok = lastResponse(c, 200);
  assert.equal(ok.cseq, '1 INVITE');
  assert.match(ok.text, /\r\nContent-Type: application\/sdp\r\n/);
  assert.match(ok.text, new RegExp(`\\r\\nContent-Length: ${Buffer.byteLength(ok.body)}\\r\\n`));
  assert.equal(ok.body, early.body, 'the same answer');
  assert.equal(c.mediaClock.size, 1, 'answering after early media does not add a second tick');
  assert.equal(c.incoming.state, 'confirmed');
  assert.deepEqual(c.events.map((e) => e.name).slice(3),
    ['CHANNEL_PROGRESS_MEDIA', 'CHANNEL_CALLSTATE', 'CHANNEL_ANSWER', 'CHANNEL_CALLSTATE']);
});

test('each 20 ms tick sends one PCMU packet of silence (0xFF bytes) to the offer\'s address', async (t) => {
  const c = await startCall(t);
  c.sipCall.negotiate();
  c.sipCall.channel.answer();
  c.ackLast();
  c.mediaTime.advance(19);
  assert.equal(c.rtp.stats.sent, 0, 'the first tick is one packet time after the media started');
  c.mediaTime.advance(1);
  assert.equal(c.rtp.stats.sent, 1);
  for (let i = 0; i < 4; i++) c.mediaTime.advance(20);
  assert.equal(c.rtp.stats.sent, 5, 'one packet per tick');
  await c.phone.received(5);
  const packets = c.phone.packets.map((p) => rtpOf(p.data));
  assert.equal(packets.length, 5);
  for (const [i, p] of packets.entries()) {
    assert.equal(p.version, 2);
    assert.equal(p.pt, 0, 'PCMU');
    assert.equal(p.marker, i === 0, 'marker on the first packet only');
    assert.equal(p.ssrc, c.rtp.ssrc);
    assert.equal(p.seq, (packets[0]!.seq + i) & 0xffff, 'consecutive sequence numbers');
    assert.equal(p.ts, (packets[0]!.ts + 160 * i) >>> 0, '160 samples per packet');
    assert.deepEqual(p.payload, Buffer.alloc(160, 0xff), 'PCMU silence');
    assert.deepEqual(c.phone.packets[i]!.from, { address: HOST, port: c.rtp.localPort });
  }
});

test('a media bug on the channel sees one frame per tick; audio from the phone arrives as its read frames', async (t) => {
  const c = await startCall(t);
  const ch = c.sipCall.channel;
  const bug = new RecordingBug();
  assert.equal(ch.addBug(bug), true);
  c.sipCall.negotiate();
  ch.answer();
  c.ackLast();
  for (let i = 0; i < 3; i++) c.mediaTime.advance(20);
  assert.deepEqual(bug.frames, [
    { read: null, write: null, dueMs: 20 }, { read: null, write: null, dueMs: 40 }, { read: null, write: null, dueMs: 60 },
  ], 'no audio from the phone yet, nothing playing');
  // The phone sends 4 PCMU packets of a constant sample, then a DTMF digit on the same stream: the
  // digit's event says every packet before it has been received.
  const ssrc = 0x1234abcd;
  const code = 0x9c; // a mu-law byte
  const sample = new Int16Array(1);
  ulawDecode(Buffer.from([code]), sample);
  for (let i = 0; i < 4; i++) {
    const packet = Buffer.alloc(12 + 160, code);
    writeRtpHeader(packet, i === 0, 0, 100 + i, 8000 + 160 * i, ssrc);
    await c.phone.send(packet, c.rtp.localPort);
  }
  const dtmf = nextEvent(c, 'DTMF');
  // The digit's first packet and its first end packet (the one that reports it); the repeats are not sent.
  const digit = buildDtmfPackets({ digit: '1', payloadType: 101, ssrc, sequenceNumber: 104, timestamp: 8640, durationMs: 40 });
  assert.equal(digit.length, 4);
  for (const p of digit.slice(0, 2)) await c.phone.send(p, c.rtp.localPort);
  assert.equal((await dtmf).get('DTMF-Source'), 'RTP');
  assert.equal(c.rtp.stats.received, 4 + 2, 'the 4 audio packets and the digit\'s 2');
  for (let i = 0; i < 8; i++) c.mediaTime.advance(20);
  assert.equal(bug.frames.length, 11, 'still one frame per tick');
  const reads = bug.frames.slice(3).map((f) => f.read);
  const silence = new Int16Array(160);
  const audio = new Int16Array(160).fill(sample[0]!);
  assert.notEqual(sample[0], 0);
  // 60 ms of playout delay (3 frames of silence), the 4 packets, then silence again (nothing more came).
  assert.deepEqual(reads, [silence, silence, silence, audio, audio, audio, audio, silence]);
  assert.ok(bug.frames.every((f) => f.write === null), 'nothing played into the call');
  assert.deepEqual(bug.frames.map((f) => f.dueMs), Array.from({ length: 11 }, (_, i) => 20 * (i + 1)));
});

test('a re-INVITE to G722 answers G722, changes the channel codec to 16 kHz and tells the bug', async (t) => {
  const { c, ch, bug } = await answeredCall(t);
  c.mediaTime.advance(20);
  c.mediaTime.advance(20);
  await c.phone.received(2);
  assert.deepEqual(bug.formats, []);
  c.inDialog({ method: 'INVITE', body: g722Offer(c.phone.port) });
  const ok = lastResponse(c, 200);
  assert.equal(ok.cseq, '2 INVITE');
  assert.equal(ok.body, expectedAnswer(ok.body, c.rtp.localPort, 2, '9 101',
    ['a=rtpmap:9 G722/8000', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-15', 'a=ptime:20', 'a=sendrecv']));
  assert.deepEqual(ch.codec, { name: 'G722', rateHz: 16000, ptimeMs: 20 });
  assert.equal(ch.getVariable('read_codec'), 'G722');
  assert.equal(ch.getVariable('read_rate'), '16000');
  assert.deepEqual(bug.formats, [{ name: 'G722', rateHz: 16000, ptimeMs: 20 }]);
  assert.equal(c.mediaClock.size, 1, 'the media tick was restarted, not doubled');
  assert.equal(c.events.some((e) => e.name === 'CHANNEL_HOLD'), false, 'sendrecv is not a hold');
  c.ackLast();
  const framesBefore = bug.frames.length;
  for (let i = 0; i < 3; i++) c.mediaTime.advance(20);
  assert.equal(bug.frames.length, framesBefore + 3, 'one frame per tick after the change');
  await c.phone.received(5);
  const g722 = c.phone.packets.slice(2).map((p) => rtpOf(p.data));
  const before = rtpOf(c.phone.packets[1]!.data);
  for (const [i, p] of g722.entries()) {
    assert.equal(p.pt, 9, 'G722');
    assert.equal(p.payload.length, 160, '20 ms of G.722 at 64 kbit/s');
    assert.equal(p.marker, i === 0, 'a new codec starts with the marker');
    assert.equal(p.ssrc, before.ssrc, 'same stream');
    assert.equal(p.seq, (before.seq + 1 + i) & 0xffff, 'the sequence goes on');
  }
  assert.equal(g722[1]!.ts - g722[0]!.ts, 160, 'G.722 RTP clock is 8000 Hz');
});

test('a re-INVITE with sendonly puts the call on hold (CHANNEL_HOLD) and we stop sending; sendrecv resumes', async (t) => {
  const c = await startCall(t);
  const ch = c.sipCall.channel;
  c.sipCall.negotiate();
  ch.answer();
  c.ackLast();
  c.mediaTime.advance(20);
  assert.equal(c.rtp.stats.sent, 1);
  c.inDialog({ method: 'INVITE', body: pcmuOffer(c.phone.port).replace('a=sendrecv', 'a=sendonly') });
  assert.match(lastResponse(c, 200).body, /\r\na=recvonly\r\n/);
  c.ackLast();
  assert.deepEqual(c.events.filter((e) => e.name.includes('HOLD')).map((e) => e.name), ['CHANNEL_HOLD']);
  c.mediaTime.advance(20);
  c.mediaTime.advance(20);
  assert.equal(c.rtp.stats.sent, 1, 'nothing sent while we only receive');
  c.inDialog({ method: 'INVITE', body: pcmuOffer(c.phone.port) });
  assert.match(lastResponse(c, 200).body, /\r\na=sendrecv\r\n/);
  c.ackLast();
  assert.deepEqual(c.events.filter((e) => e.name.includes('HOLD')).map((e) => e.name), ['CHANNEL_HOLD', 'CHANNEL_UNHOLD']);
  c.mediaTime.advance(20);
  assert.equal(c.rtp.stats.sent, 2);
});

test('a re-INVITE with no common codec is refused with 488 and the call keeps its codec', async (t) => {
  const c = await startCall(t);
  const ch = c.sipCall.channel;
  c.sipCall.negotiate();
  ch.answer();
  c.ackLast();
  c.inDialog({ method: 'INVITE', body: offerSdp(c.phone.port, '18', ['18 G729/8000']) });
  assert.equal(sentStatuses(c.transport).at(-1), 488);
  assert.deepEqual(ch.codec, { name: 'PCMU', rateHz: 8000, ptimeMs: 20 });
  assert.equal(ch.isHungUp, false);
});

test('SIP INFO application/dtmf-relay and application/dtmf fire DTMF events (200 to each INFO)', async (t) => {
  const c = await startCall(t);
  const ch = c.sipCall.channel;
  c.sipCall.negotiate();
  ch.answer();
  c.ackLast();
  c.inDialog({ method: 'INFO', contentType: 'application/dtmf-relay', body: 'Signal=5\r\nDuration=160\r\n' });
  const ok = lastResponse(c, 200);
  assert.equal(ok.cseq, '2 INFO');
  c.inDialog({ method: 'INFO', contentType: 'application/dtmf', body: '#' });
  assert.equal(lastResponse(c, 200).cseq, '3 INFO');
  c.inDialog({ method: 'INFO', contentType: 'application/dtmf-relay', body: 'Signal=X\r\n' });
  assert.equal(lastResponse(c, 200).cseq, '4 INFO', 'a bad signal is still answered 200');
  const dtmf = c.events.filter((e) => e.name === 'DTMF');
  assert.deepEqual(dtmf.map((e) => [e.get('DTMF-Digit'), e.get('DTMF-Duration'), e.get('DTMF-Source')]), [
    ['5', '1280', 'ENDPOINT'], ['#', '2000', 'ENDPOINT'],
  ]);
  assert.equal(dtmf[0]!.get('Unique-ID'), ch.uuid);
  const names = dtmf[0]!.headers.map(([n]) => n);
  assert.deepEqual(names.slice(-3), ['DTMF-Digit', 'DTMF-Duration', 'DTMF-Source'], 'DTMF headers come after the channel data');
});

test('an RFC 4733 digit from the phone fires DTMF with its duration in samples and reaches the media bugs', async (t) => {
  const { c, bug } = await answeredCall(t);
  const dtmf = nextEvent(c, 'DTMF');
  for (const p of buildDtmfPackets({ digit: '#', payloadType: 101, ssrc: 7, sequenceNumber: 1, timestamp: 1000, durationMs: 100 })) {
    await c.phone.send(p, c.rtp.localPort);
  }
  const e = await dtmf;
  assert.deepEqual([e.get('DTMF-Digit'), e.get('DTMF-Duration'), e.get('DTMF-Source'), e.get('Unique-ID')],
    ['#', '800', 'RTP', c.sipCall.channel.uuid]);
  assert.deepEqual(bug.digits, ['#/100']);
});

test('BYE from the phone hangs the channel up with NORMAL_CLEARING and stops the media', async (t) => {
  const { c, ch, bug } = await answeredCall(t);
  c.mediaTime.advance(20);
  assert.equal(c.mediaClock.size, 1);
  const from = c.events.length;
  c.inDialog({ method: 'BYE' });
  assert.equal(lastResponse(c, 200).cseq, '2 BYE');
  const hangup = c.events.slice(from).filter((e) => e.name.startsWith('CHANNEL_HANGUP') || e.name === 'CHANNEL_DESTROY');
  assert.deepEqual(hangup.map((e) => [e.name, e.get('Hangup-Cause'), e.get('variable_hangup_cause_q850')]), [
    ['CHANNEL_HANGUP', 'NORMAL_CLEARING', undefined],
    ['CHANNEL_HANGUP_COMPLETE', 'NORMAL_CLEARING', '16'],
    ['CHANNEL_DESTROY', 'NORMAL_CLEARING', '16'],
  ]);
  // As sofia notes a BYE it received: the status it answered and the cause, then the disposition.
  const v = (n: string): string | undefined => hangup[1]!.get(`variable_${n}`);
  assert.deepEqual(['sip_term_status', 'proto_specific_hangup_cause', 'sip_term_cause', 'sip_hangup_disposition'].map(v),
    ['200', 'sip:200', '16', 'recv_bye']);
  assert.equal(hangup[0]!.get('variable_sip_hangup_disposition'), undefined, 'set right after CHANNEL_HANGUP');
  assert.equal(ch.hangupCause, 'NORMAL_CLEARING');
  assert.equal(await ch.ended, 'NORMAL_CLEARING');
  assert.equal(c.transport.sentStarting('BYE').length, 0, 'no BYE back');
  assert.equal(c.channels.size, 0);
  assert.equal(c.mediaClock.size, 0, 'the media tick was removed');
  assert.equal(bug.closes, 1);
  const sent = c.rtp.stats.sent;
  c.mediaTime.advance(100);
  assert.equal(c.rtp.stats.sent, sent, 'no RTP after the BYE');
  assert.equal(bug.frames.length, 1);
});

test('channel.hangup() on an answered call sends BYE in the dialog', async (t) => {
  const c = await startCall(t);
  const ch = c.sipCall.channel;
  c.sipCall.negotiate();
  ch.answer();
  c.ackLast();
  const tag = c.toTag();
  ch.hangup();
  const byes = c.transport.sentStarting('BYE');
  assert.equal(byes.length, 1);
  const bye = parseSent(byes[0]!.text);
  assert.equal(bye.requestUriText, 'sip:alice@192.0.2.10:5062', 'to the Contact of the INVITE');
  assert.equal(bye.callId, 'call-1@192.0.2.10');
  assert.equal(bye.from.params.get('tag'), tag, 'our tag');
  assert.equal(bye.to.params.get('tag'), 'from-1', 'the phone\'s tag');
  assert.deepEqual(byes[0]!.dest, { transport: 'udp', address: '192.0.2.10', port: 5062 });
  assert.equal(c.incoming.state, 'terminated');
  assert.equal(ch.hangupCause, 'NORMAL_CLEARING');
  assert.equal(c.mediaClock.size, 0);
  ch.hangup();
  assert.equal(c.transport.sentStarting('BYE').length, 1, 'hangup is idempotent');
});

test('hangup before the answer sends the cause\'s SIP status (USER_BUSY: 486), not a BYE', async (t) => {
  const c = await startCall(t);
  c.sipCall.negotiate();
  c.incoming.progress(180);
  c.sipCall.channel.hangup('USER_BUSY');
  assert.deepEqual(sentStatuses(c.transport), [100, 180, 486]);
  assert.equal(c.transport.sentStarting('BYE').length, 0);
});

test('CANCEL from the phone hangs up with ORIGINATOR_CANCEL (487 to the INVITE)', async (t) => {
  const c = await startCall(t);
  c.sipCall.negotiate();
  c.sipCall.channel.preAnswer();
  c.transport.inject(sipRequest({ method: 'CANCEL' }));
  assert.equal(c.sipCall.channel.hangupCause, 'ORIGINATOR_CANCEL');
  assert.deepEqual(sentStatuses(c.transport), [100, 183, 200, 487]);
  assert.equal(c.mediaClock.size, 0);
});

test('an INVITE without SDP: our 200 carries the offer, the ACK\'s answer (G722) sets the channel codec', async (t) => {
  const c = await startCall(t, { offer: null });
  const ch = c.sipCall.channel;
  const bug = new RecordingBug();
  ch.addBug(bug);
  assert.equal(c.sipCall.negotiate(), true);
  assert.equal(ch.answer(), true);
  const ok = lastResponse(c, 200);
  assert.equal(ok.body, expectedAnswer(ok.body, c.rtp.localPort, 1, '0 8 9 96 97 101', [
    'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:9 G722/8000', 'a=rtpmap:96 L16/8000', 'a=rtpmap:97 L16/16000',
    'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-15', 'a=ptime:20', 'a=sendrecv',
  ]));
  c.mediaTime.advance(20);
  assert.equal(c.rtp.stats.sent, 0, 'no RTP before the answer says where');
  c.ackLast(g722Offer(c.phone.port));
  assert.deepEqual(ch.codec, { name: 'G722', rateHz: 16000, ptimeMs: 20 });
  assert.deepEqual(bug.formats, [{ name: 'G722', rateHz: 16000, ptimeMs: 20 }]);
  c.mediaTime.advance(20);
  assert.equal(c.rtp.stats.sent, 1);
  await c.phone.received(1);
  assert.equal(rtpOf(c.phone.packets[0]!.data).pt, 9);
});

test('an ACK without the answer to our offer hangs up with INCOMPATIBLE_DESTINATION (BYE)', async (t) => {
  const c = await startCall(t, { offer: null });
  c.sipCall.negotiate();
  c.sipCall.channel.answer();
  c.ackLast();
  assert.equal(c.sipCall.channel.hangupCause, 'INCOMPATIBLE_DESTINATION');
  assert.equal(c.transport.sentStarting('BYE').length, 1);
});

test('no RTP from the phone for rtpTimeoutSec: the call is hung up with MEDIA_TIMEOUT (BYE)', async (t) => {
  const c = await startCall(t, { rtpTimeoutSec: 1 });
  // The RTP session stamps packets (and its creation) with performance.now(): start the media
  // clock's fake time there so that both count from the same origin.
  c.mediaTime.advance(performance.now());
  const ch = c.sipCall.channel;
  c.sipCall.negotiate();
  ch.answer();
  c.ackLast();
  for (let i = 0; i < 40; i++) c.mediaTime.advance(20);
  assert.equal(ch.isHungUp, false, '800 ms without RTP is within the limit');
  for (let i = 0; i < 60 && !ch.isHungUp; i++) c.mediaTime.advance(20);
  assert.equal(ch.hangupCause, 'MEDIA_TIMEOUT', 'hung up within 2 s of silence');
  assert.equal(c.events.find((e) => e.name === 'CHANNEL_HANGUP')?.get('Hangup-Cause'), 'MEDIA_TIMEOUT');
  assert.equal(c.events.find((e) => e.name === 'CHANNEL_HANGUP_COMPLETE')?.get('variable_hangup_cause_q850'), '604');
  assert.equal(c.events.find((e) => e.name === 'CHANNEL_DESTROY')!.get('variable_sip_hangup_disposition'), 'send_bye');
  assert.equal(c.transport.sentStarting('BYE').length, 1);
  assert.equal(c.mediaClock.size, 0);
});

// A re-INVITE without SDP (RFC 3264 §8: the peer asks for a new offer, as third-party call control
// does to move the media) gets our SDP in the 200, and the answer in the ACK moves the RTP.
test('a re-INVITE without SDP: the answer in its ACK moves the media', async (t) => {
  const c = await startCall(t);
  const ch = c.sipCall.channel;
  c.sipCall.negotiate();
  ch.answer();
  c.ackLast();
  const moved = await openPhone();
  t.after(() => moved.socket.close());
  c.inDialog({ method: 'INVITE' });
  const ok = lastResponse(c, 200);
  assert.equal(ok.cseq, '2 INVITE');
  assert.match(ok.body, /^m=audio \d+ RTP\/AVP 0 101\r$/m, 'our offer');
  c.ackLast(pcmuOffer(moved.port));
  assert.deepEqual(c.rtp.remote, { address: HOST, port: moved.port });
  c.mediaTime.advance(20);
  await moved.received(1);
  assert.equal(c.phone.packets.length, 0);
});

/** Resolves once `cond()` holds (polled each ms); rejects after 3 s. */
async function until(cond: () => boolean): Promise<void> {
  const end = Date.now() + 3000;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 1));
  }
}

// Strict RTP through the call: the SDP's source is learned, a re-INVITE that moves the media
// learns again (the new address at once), the old source is then foreign: dropped, counted, logged
// once, and no sign of life for the RTP timeout.
test('a re-INVITE to a new address learns the RTP source again; the old source is dropped, counted and logged once', async (t) => {
  const lines: string[] = [];
  t.after(addLogSink((level, _scope, message) => lines.push(`${level} ${message}`)));
  const { c, bug } = await answeredCall(t);
  const packet = (seq: number, ssrc: number, code: number): Buffer => {
    const p = Buffer.alloc(12 + 160, code);
    writeRtpHeader(p, false, 0, seq, 160 * seq, ssrc);
    return p;
  };
  await c.phone.send(packet(1, 1, 0x9c), c.rtp.localPort);
  await until(() => c.rtp.stats.received === 1);
  assert.deepEqual(c.rtp.remote, { address: HOST, port: c.phone.port });
  const moved = await openPhone();
  t.after(() => moved.socket.close());
  c.inDialog({ method: 'INVITE', body: pcmuOffer(moved.port) });
  assert.equal(lastResponse(c, 200).cseq, '2 INVITE');
  c.ackLast();
  assert.deepEqual(c.rtp.remote, { address: HOST, port: moved.port }, 'learning: the new SDP address');
  await moved.send(packet(500, 2, 0x1c), c.rtp.localPort);
  await until(() => c.rtp.stats.received === 2);
  for (let i = 2; i < 7; i++) await c.phone.send(packet(i, 1, 0x9c), c.rtp.localPort);
  await until(() => c.rtp.stats.foreign === 5);
  assert.deepEqual(c.rtp.remote, { address: HOST, port: moved.port });
  c.mediaTime.advance(20);
  await moved.received(1);
  assert.equal(c.phone.packets.length, 0, 'nothing sent to the old address since');
  for (let i = 0; i < 4; i++) c.mediaTime.advance(20);
  const moved1 = new Int16Array(160);
  ulawDecode(Buffer.alloc(160, 0x1c), moved1);
  assert.ok(bug.frames.some((f) => f.read && f.read[0] === moved1[0]), 'the new source\'s audio reached the channel');
  assert.deepEqual([c.rtp.stats.sourcesLearned, c.rtp.stats.ssrcChanges], [2, 1]);
  const foreign = lines.filter((l) => l.includes(`RTP from ${HOST}:${c.phone.port} dropped`));
  assert.deepEqual(foreign, [`warning RTP from ${HOST}:${c.phone.port} dropped: not the call's source ${HOST}:${moved.port} (strict RTP)`]);
  c.sipCall.channel.hangup();
  assert.ok(lines.some((l) => /^info hangup NORMAL_CLEARING: rtp received 2, .*foreign 5, stray 0, /.test(l)), lines.join('\n'));
});

test('the variables of a SIP call are FreeSWITCH 1.10.12\'s, in its order, event by event (but those audio-stream cannot fill)', async (t) => {
  // The oracle's call (fs-event-headers.test-data.ts): a SIPp-like INVITE, answer, park, then the
  // ACK, a stream started, stopped and started again, and a BYE from the phone.
  const c = await startCall(t, { headers: ['X-Test-Case: sipp-1'], contact: '<sip:alice@192.0.2.10:5062;transport=UDP>' });
  const ch = c.sipCall.channel;
  const app = (name: string, run: () => void): void => {
    ch.executing(name, '');
    ch.fire('CHANNEL_EXECUTE', undefined, undefined, { Application: name, 'Application-UUID': 'u' });
    run();
  };
  ch.setState('CS_ROUTING');
  ch.setState('CS_EXECUTE');
  app('answer', () => ch.answer());
  ch.fire('CHANNEL_EXECUTE_COMPLETE', undefined, undefined, { Application: 'answer', 'Application-Response': '_none_', 'Application-UUID': 'u' });
  app('park', () => ch.park());
  c.ackLast();
  const stream = new RecordingBug();
  Object.assign(stream, { name: 'audio_stream' });
  ch.addBug(stream);
  ch.fire('CUSTOM', 'mod_audio_stream::connect', '{}');
  ch.fire('CUSTOM', 'mod_audio_stream::json', '{}');
  ch.removeBug(stream);
  ch.addBug(stream);
  ch.fire('CUSTOM', 'mod_audio_stream::connect', '{}');
  c.inDialog({ method: 'BYE' });
  const fs = FS_PARK_CALL.filter((entry, i) => !(entry[0] === 'CHANNEL_EXECUTE_COMPLETE' && FS_PARK_CALL[i - 1]![0] === 'CHANNEL_UNPARK'));
  assert.deepEqual(c.events.map((e) => (e.subclass ? `CUSTOM ${e.subclass}` : e.name)), fs.map(([n]) => n));
  fs.forEach((entry, i) => {
    const ours = c.events[i]!.headers.filter(([n, v]) => n.startsWith('variable_') && v !== '').map(([n]) => n);
    const theirs = headerNames(entry).filter((n) => n.startsWith('variable_') && !NOT_FILLED.has(n));
    assert.deepEqual(ours, theirs, `${entry[0]} (#${i})`);
  });
  const complete = c.events.find((e) => e.name === 'CHANNEL_HANGUP_COMPLETE')!;
  const v = (n: string): string | undefined => complete.get(`variable_${n}`);
  assert.equal(v('sip_full_from'), '"Alice" <sip:alice@192.0.2.10:5062>;tag=from-1');
  assert.equal(v('sip_full_to'), `<sip:service@127.0.0.1:5060>;tag=${c.toTag()}`, 'the ACK\'s To');
  assert.equal(v('sip_full_via'), 'SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-ack-1;rport', 'the ACK\'s Via');
  assert.equal(v('sip_from_uri'), 'alice@192.0.2.10:5062');
  assert.equal(v('sip_req_uri'), 'service@127.0.0.1:5060');
  assert.equal(v('sip_contact_params'), 'transport=UDP');
  assert.equal(v('switch_r_sdp'), pcmuOffer(c.phone.port));
  const answer = c.transport.sentStarting('SIP/2.0 200').map((m) => parseSent(m.text)).find((m) => m.cseq.method === 'INVITE')!;
  assert.equal(v('rtp_local_sdp_str'), answer.bodyText);
  assert.deepEqual([v('local_media_ip'), v('local_media_port'), v('remote_media_ip'), v('remote_media_port')],
    [HOST, String(c.rtp.localPort), HOST, String(c.phone.port)]);
  assert.equal(v('rtp_use_ssrc'), String(c.rtp.ssrc));
  assert.deepEqual([v('rtp_use_codec_name'), v('rtp_use_codec_rate'), v('rtp_use_codec_ptime'), v('rtp_last_audio_codec_string')],
    ['PCMU', '8000', '20', 'PCMU@8000h@20i@1c']);
  assert.deepEqual([v('audio_media_flow'), v('remote_audio_media_flow'), v('remote_video_media_flow')], ['sendrecv', 'sendrecv', 'inactive']);
  assert.deepEqual([v('endpoint_disposition'), v('sip_hangup_disposition'), v('dtmf_type')], ['ANSWER', 'recv_bye', 'rfc2833']);
  assert.equal(v('sip_invite_stamp'), ch.createdAtUs.toString());
  assert.equal(ch.getVariable('sip_full_from'), v('sip_full_from'), 'real channel variables (uuid_getvar, uuid_dump)');
});

test('privacy and screening of the caller profile come from Privacy and Remote-Party-ID', async (t) => {
  const hidden = await startCall(t, { headers: ['Privacy: id'] });
  const caller = hidden.sipCall.channel.caller;
  assert.deepEqual([caller.screenBit, caller.privacyHideName, caller.privacyHideNumber], [true, true, true]);
  assert.equal(hidden.sipCall.channel.getVariable('sip_Privacy'), 'id');
  const rpid = await startCall(t, { headers: ['Remote-Party-ID: "Bob" <sip:bob@192.0.2.10>;party=calling;privacy=name;screen=no'] });
  const e = rpid.events.find((x) => x.name === 'CHANNEL_CREATE')!;
  assert.deepEqual(['Caller-Screen-Bit', 'Caller-Privacy-Hide-Name', 'Caller-Privacy-Hide-Number'].map((n) => e.get(n)), ['false', 'true', 'false']);
});
