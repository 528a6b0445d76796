import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acceptAnswer, answerOffer, createOffer } from './offer-answer.ts';
import type { NegotiatedMedia } from './negotiated-media.ts';
import type { ErrorCode, Result } from '../lib/errors.ts';
import { parseSdp } from './parse-sdp.ts';
import { BARESIP, BARESIP_WIDEBAND_FIRST, LINPHONE, SIPP_PCAP, SIPP_UAC, VIDEO_AND_AUDIO, sdp } from './fixtures.test-data.ts';

const LOCAL = { address: '127.0.0.1', port: 20000, sessionId: '42', sessionVersion: 1 };

function answered(offer: string, local: Parameters<typeof answerOffer>[1] = LOCAL): { answerSdp: string; media: NegotiatedMedia } {
  const r = answerOffer(offer, local);
  assert.ok(r.ok, `unexpected ${JSON.stringify(r)}`);
  return r.value;
}

/** The media of a successful negotiation. */
function accepted(r: Result<NegotiatedMedia>): NegotiatedMedia {
  assert.ok(r.ok, `unexpected ${JSON.stringify(r)}`);
  return r.value;
}

/** The error code of a failed negotiation. */
function failed(r: Result<unknown>): ErrorCode {
  assert.ok(!r.ok, `expected an error, got ${JSON.stringify(r)}`);
  return r.error.code;
}

/** Lines of an SDP text without the CRLFs. */
const lines = (text: string): string[] => text.split('\r\n').filter((l) => l !== '');

test('SIPp PCMU-only offer: PCMU, no telephone-event, ptime 20, sendrecv', () => {
  const { answerSdp, media } = answered(SIPP_UAC);
  assert.deepEqual(media, {
    codec: { name: 'PCMU', payloadType: 0, clockRateHz: 8000, sampleRateHz: 8000, channels: 1 },
    ptimeMs: 20, direction: 'sendrecv', remote: { address: '127.0.0.1', port: 6000, family: 4 },
  });
  assert.deepEqual(lines(answerSdp), [
    'v=0', 'o=audio-stream 42 1 IN IP4 127.0.0.1', 's=audio-stream', 'c=IN IP4 127.0.0.1', 't=0 0',
    'm=audio 20000 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', 'a=ptime:20', 'a=sendrecv',
  ]);
});

test('SIPp pcap offer: PCMA and the offerer\'s telephone-event payload type, fmtp 0-15', () => {
  const { answerSdp, media } = answered(SIPP_PCAP);
  assert.equal(media.codec.name, 'PCMA');
  assert.equal(media.codec.payloadType, 8);
  assert.deepEqual(media.telephoneEvent, { payloadType: 101, clockRateHz: 8000 });
  const m = lines(answerSdp).slice(5);
  assert.deepEqual(m, ['m=audio 20000 RTP/AVP 8 101', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-15', 'a=ptime:20', 'a=sendrecv']);
});

test('baresip: the offerer\'s first supported codec wins; stereo and odd-rate L16 are skipped', () => {
  assert.equal(answered(BARESIP).media.codec.name, 'PCMU');
  const wide = answered(BARESIP_WIDEBAND_FIRST);
  assert.deepEqual(wide.media.codec, { name: 'L16', payloadType: 102, clockRateHz: 16000, sampleRateHz: 16000, channels: 1 });
  assert.deepEqual(wide.media.telephoneEvent, { payloadType: 105, clockRateHz: 8000 });
  assert.ok(wide.answerSdp.includes('m=audio 20000 RTP/AVP 102 105\r\na=rtpmap:102 L16/16000\r\n'));
  const g722 = answered(BARESIP_WIDEBAND_FIRST, { ...LOCAL, preferences: ['G722', 'PCMU'] });
  assert.deepEqual(g722.media.codec, { name: 'G722', payloadType: 9, clockRateHz: 8000, sampleRateHz: 16000, channels: 1 });
  const onlyL8 = answered(BARESIP, { ...LOCAL, preferences: ['L16'] });
  assert.equal(onlyL8.media.codec.payloadType, 102, 'L16/16000 is listed before L16/8000 in the format list');
});

test('greedy negotiation takes our order instead of the offerer\'s', () => {
  const r = answered(BARESIP, { ...LOCAL, preferences: ['G722', 'PCMU'], negotiation: 'greedy' });
  assert.equal(r.media.codec.name, 'G722');
  assert.equal(answered(BARESIP, { ...LOCAL, preferences: ['G722', 'PCMU'] }).media.codec.name, 'PCMU');
});

test('linphone-like: PCMU, telephone-event at 8000 chosen among 48000/16000/8000', () => {
  const { media, answerSdp } = answered(LINPHONE);
  assert.equal(media.codec.name, 'PCMU');
  assert.deepEqual(media.telephoneEvent, { payloadType: 100, clockRateHz: 8000 });
  assert.ok(answerSdp.includes('m=audio 20000 RTP/AVP 0 100\r\n'));
  const wide = answered(LINPHONE.replace('m=audio 7078 RTP/AVP 96 97 98 0 8 18 101 99 100', 'm=audio 7078 RTP/AVP 96 97 112 101 99 100\r\na=rtpmap:112 L16/16000'));
  assert.equal(wide.media.codec.name, 'L16');
  assert.deepEqual(wide.media.telephoneEvent, { payloadType: 99, clockRateHz: 16000 }, 'events at the codec clock when offered');
});

test('video + audio + application: rejected lines keep their place with port 0', () => {
  const { answerSdp, media } = answered(VIDEO_AND_AUDIO);
  assert.equal(media.codec.name, 'G722');
  assert.equal(media.ptimeMs, 30);
  assert.deepEqual(media.remote, { address: '127.0.0.1', port: 9002, family: 4 });
  const ans = parseSdp(answerSdp);
  assert.deepEqual(ans.media.map((m) => `${m.type} ${m.port} ${m.protocol} ${m.formats.join(' ')}`), [
    'video 0 RTP/AVP 96 97', 'audio 20000 RTP/AVP 9 101', 'application 0 UDP/BFCP *',
  ]);
  assert.ok(answerSdp.includes('a=ptime:30\r\n'));
});

test('a second audio stream is rejected; SRTP-only audio is not usable', () => {
  const two = answered(SIPP_UAC + 'm=audio 6002 RTP/AVP 8\r\n');
  assert.deepEqual(parseSdp(two.answerSdp).media.map((m) => m.port), [20000, 0]);
  const srtp = SIPP_UAC.replace('RTP/AVP', 'RTP/SAVP') + 'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAAA\r\n';
  assert.equal(failed(answerOffer(srtp, LOCAL)), 'SDP_NO_AUDIO');
  const srtpThenPlain = answered(srtp + 'm=audio 6004 RTP/AVP 0\r\n');
  assert.deepEqual(parseSdp(srtpThenPlain.answerSdp).media.map((m) => `${m.port} ${m.protocol}`), ['0 RTP/SAVP', '20000 RTP/AVP']);
  assert.equal(srtpThenPlain.media.remote.port, 6004);
});

test('hold offers: a=sendonly, a=inactive, c=0.0.0.0, a=recvonly; session-level direction', () => {
  const base = SIPP_UAC;
  assert.equal(answered(base + 'a=sendonly\r\n').media.direction, 'recvonly');
  assert.equal(answered(base + 'a=inactive\r\n').media.direction, 'inactive');
  assert.equal(answered(base + 'a=recvonly\r\n').media.direction, 'sendonly');
  const c0 = answered(base.replace('c=IN IP4 127.0.0.1', 'c=IN IP4 0.0.0.0'));
  assert.equal(c0.media.direction, 'recvonly');
  assert.equal(c0.media.remote.address, '0.0.0.0');
  assert.ok(c0.answerSdp.includes('a=recvonly\r\n'));
  assert.equal(answered(base.replace('c=IN IP4 127.0.0.1', 'c=IN IP4 0.0.0.0') + 'a=recvonly\r\n').media.direction, 'inactive');
  assert.equal(answered(base.replace('t=0 0', 't=0 0\r\na=sendonly')).media.direction, 'recvonly');
  assert.equal(answered(base.replace('t=0 0', 't=0 0\r\na=sendonly') + 'a=sendrecv\r\n').media.direction, 'sendrecv', 'media level wins');
});

test('IPv6 offers and answers', () => {
  const v6 = SIPP_UAC.replaceAll('IN IP4 127.0.0.1', 'IN IP6 ::1');
  const { media, answerSdp } = answered(v6, { ...LOCAL, address: '::1' });
  assert.deepEqual(media.remote, { address: '::1', port: 6000, family: 6 });
  assert.ok(answerSdp.includes('o=audio-stream 42 1 IN IP6 ::1\r\n') && answerSdp.includes('c=IN IP6 ::1\r\n'));
  const mediaLevel = answered(SIPP_UAC.replace('m=audio 6000 RTP/AVP 0', 'm=audio 6000 RTP/AVP 0\r\nc=IN IP6 ::1'));
  assert.equal(mediaLevel.media.remote.family, 6, 'media-level c= wins');
  assert.equal(failed(answerOffer(SIPP_UAC.replace('c=IN IP4 127.0.0.1', 'c=IN IP6 127.0.0.1'), LOCAL)), 'SDP_MALFORMED');
});

test('ptime: echoed when 10..60, else 20', () => {
  for (const [attr, want] of [['a=ptime:10', 10], ['a=ptime:60', 60], ['a=ptime:40', 40], ['a=ptime:5', 20], ['a=ptime:120', 20], ['a=ptime:abc', 20], ['a=ptime:20.0', 20]] as const) {
    const r = answered(SIPP_UAC + attr + '\r\n');
    assert.equal(r.media.ptimeMs, want, attr);
    assert.ok(r.answerSdp.includes(`a=ptime:${want}\r\n`));
  }
});

test('no common codec, no audio, malformed', () => {
  const opusOnly = SIPP_UAC.replace('m=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000', 'm=audio 6000 RTP/AVP 96 18\r\na=rtpmap:96 opus/48000/2');
  assert.equal(failed(answerOffer(opusOnly, LOCAL)), 'SDP_NO_COMMON_CODEC');
  assert.equal(failed(answerOffer(SIPP_UAC, { ...LOCAL, preferences: ['G722'] })), 'SDP_NO_COMMON_CODEC');
  assert.equal(failed(answerOffer(SIPP_UAC.replace('m=audio 6000 RTP/AVP 0', 'm=video 6000 RTP/AVP 96'), LOCAL)), 'SDP_NO_AUDIO');
  assert.equal(failed(answerOffer(SIPP_UAC.replace('m=audio 6000', 'm=audio 0'), LOCAL)), 'SDP_NO_AUDIO');
  assert.equal(failed(answerOffer('garbage', LOCAL)), 'SDP_MALFORMED');
  assert.equal(failed(answerOffer(SIPP_UAC.replace('c=IN IP4 127.0.0.1\r\n', ''), LOCAL)), 'SDP_MALFORMED');
  assert.equal(failed(answerOffer(SIPP_UAC.replace('c=IN IP4 127.0.0.1', 'c=IN IP4 pbx.example.com'), LOCAL)), 'SDP_MALFORMED');
  assert.throws(() => answerOffer(SIPP_UAC, { ...LOCAL, port: 0 }), RangeError);
  assert.throws(() => answerOffer(SIPP_UAC, { ...LOCAL, address: 'localhost' }), RangeError);
});

test('static payload types without rtpmap, case-insensitive names, G722/16000 seen in the wild', () => {
  const bare = SIPP_UAC.replace('m=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000', 'm=audio 6000 RTP/AVP 9 8');
  assert.equal(answered(bare).media.codec.name, 'G722');
  const lower = SIPP_UAC.replace('m=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000', 'm=audio 6000 RTP/AVP 120\r\na=rtpmap:120 l16/8000');
  assert.deepEqual(answered(lower).media.codec, { name: 'L16', payloadType: 120, clockRateHz: 8000, sampleRateHz: 8000, channels: 1 });
  const g16 = SIPP_UAC.replace('a=rtpmap:0 PCMU/8000', 'a=rtpmap:0 PCMU/8000').replace('RTP/AVP 0', 'RTP/AVP 9 0') + 'a=rtpmap:9 G722/16000\r\n';
  const r = answered(g16);
  assert.equal(r.media.codec.name, 'G722');
  assert.equal(r.media.codec.clockRateHz, 8000);
  assert.ok(r.answerSdp.includes('a=rtpmap:9 G722/8000'));
});

test('re-offers: the caller\'s session version goes into o=', () => {
  const first = answered(SIPP_UAC, { ...LOCAL, sessionVersion: 1 });
  const second = answered(SIPP_UAC + 'a=sendonly\r\n', { ...LOCAL, sessionVersion: 2 });
  assert.equal(parseSdp(first.answerSdp).origin.sessionVersion, '1');
  assert.equal(parseSdp(second.answerSdp).origin.sessionVersion, '2');
  assert.equal(parseSdp(second.answerSdp).origin.sessionId, '42');
  const random = answered(SIPP_UAC, { address: '127.0.0.1', port: 20000 });
  assert.match(parseSdp(random.answerSdp).origin.sessionId, /^[0-9]+$/);
});

test('createOffer lists our codecs and telephone-event', () => {
  const offer = createOffer({ address: '127.0.0.1', port: 30000, sessionId: '7', sessionVersion: 3 });
  assert.deepEqual(lines(offer), [
    'v=0', 'o=audio-stream 7 3 IN IP4 127.0.0.1', 's=audio-stream', 'c=IN IP4 127.0.0.1', 't=0 0',
    'm=audio 30000 RTP/AVP 0 8 9 96 97 101',
    'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:9 G722/8000', 'a=rtpmap:96 L16/8000', 'a=rtpmap:97 L16/16000',
    'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-15', 'a=ptime:20', 'a=sendrecv',
  ]);
  const hold = createOffer({ address: '::1', port: 30000, ptimeMs: 30, preferences: ['G722'], direction: 'sendonly' });
  assert.ok(hold.includes('m=audio 30000 RTP/AVP 9 101\r\n') && hold.includes('a=ptime:30\r\n') && hold.includes('a=sendonly\r\n'));
  assert.ok(hold.includes('c=IN IP6 ::1'));
  // Our offer answered by ourselves gives the same stream on both sides.
  const ans = answered(createOffer({ address: '127.0.0.1', port: 30000 }));
  assert.equal(ans.media.codec.name, 'PCMU');
  assert.deepEqual(ans.media.telephoneEvent, { payloadType: 101, clockRateHz: 8000 });
});

test('acceptAnswer reads the peer\'s choice', () => {
  const offer = createOffer({ address: '127.0.0.1', port: 30000 });
  const answer = sdp('v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
    'm=audio 40000 RTP/AVP 9 101', 'a=rtpmap:101 telephone-event/8000', 'a=ptime:40', 'a=recvonly');
  assert.deepEqual(accepted(acceptAnswer(offer, answer)), {
    codec: { name: 'G722', payloadType: 9, clockRateHz: 8000, sampleRateHz: 16000, channels: 1 },
    telephoneEvent: { payloadType: 101, clockRateHz: 8000 },
    ptimeMs: 40, direction: 'sendonly', remote: { address: '127.0.0.1', port: 40000, family: 4 },
  });
  // The answer reuses our dynamic type without rtpmap: our offer's mapping applies.
  const l16 = accepted(acceptAnswer(offer, answer.replace('RTP/AVP 9 101', 'RTP/AVP 97').replace('a=recvonly', 'a=sendrecv')));
  assert.deepEqual([l16.codec.name, l16.codec.sampleRateHz, l16.ptimeMs, l16.direction, l16.telephoneEvent], ['L16', 16000, 40, 'sendrecv', undefined]);
  const held = createOffer({ address: '127.0.0.1', port: 30000, direction: 'sendonly' });
  assert.equal(accepted(acceptAnswer(held, answer.replace('a=recvonly', 'a=sendrecv'))).direction, 'sendonly');
  assert.equal(failed(acceptAnswer(offer, answer.replace('m=audio 40000', 'm=audio 0'))), 'SDP_NO_AUDIO');
  assert.equal(failed(acceptAnswer(offer, answer.replace('RTP/AVP 9 101', 'RTP/AVP 18'))), 'SDP_NO_COMMON_CODEC');
  assert.equal(failed(acceptAnswer(offer, answer.replace('RTP/AVP 9 101', 'RTP/AVP 110\r\na=rtpmap:110 PCMU/8000'))), 'SDP_NO_COMMON_CODEC', 'a type we did not offer');
  assert.equal(failed(acceptAnswer(offer, 'v=0\r\n')), 'SDP_MALFORMED');
  assert.equal(failed(acceptAnswer(offer, answer.replace('m=audio', 'm=video'))), 'SDP_MALFORMED');
});
