// parseMessage on the messages of a call's life: the INVITE with its SDP offer (the big one,
// once per call) and the short BYE and its 200 OK at the end. Each runs as a UDP datagram would.
import type { Benchmark } from './harness.ts';
import { parseMessage } from '../../src/sip/message/parser.ts';

const CRLF = '\r\n';

/** A message's text: header lines, then the body, with Content-Length computed (CRLF line ends). */
function message(headers: string[], body = ''): string {
  return [...headers, `Content-Length: ${Buffer.byteLength(body)}`, '', body].join(CRLF);
}

/** An INVITE as a carrier SBC sends it to us (about 900 bytes): Record-Route, Date, session timer, G.711/G.722 + DTMF offer. */
function inviteText(): string {
  const sdp = [
    'v=0',
    'o=- 1745331200 1745331201 IN IP4 198.51.100.7',
    's=SBC',
    'c=IN IP4 198.51.100.7',
    't=0 0',
    'm=audio 18230 RTP/AVP 0 8 9 101',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:9 G722/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-16',
    'a=ptime:20',
    'a=sendrecv',
    '',
  ].join(CRLF);
  return message([
    'INVITE sip:+15551230000@203.0.113.20:5060;transport=udp SIP/2.0',
    'Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK-524287-1-8f3a9c2e;rport',
    'Max-Forwards: 69',
    'Record-Route: <sip:198.51.100.7;lr;ftag=7c1e5a2b>',
    'From: "Alice Caller" <sip:+15559876543@198.51.100.7>;tag=7c1e5a2b',
    'To: <sip:+15551230000@203.0.113.20>',
    'Call-ID: 3c26700b3a1f4f2a9c1b6d0e8f7a5b4c@198.51.100.7',
    'CSeq: 102 INVITE',
    'Contact: <sip:+15559876543@198.51.100.7:5060;transport=udp>',
    'Date: Tue, 22 Apr 2025 14:20:00 GMT',
    'Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, INFO',
    'Supported: replaces, timer',
    'Session-Expires: 1800;refresher=uac',
    'Content-Type: application/sdp',
  ], sdp);
}

/** The caller's BYE in the dialog the INVITE set up (our To tag). */
function byeText(): string {
  return message([
    'BYE sip:service@203.0.113.20:5060 SIP/2.0',
    'Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK-524287-1-b7e01d44;rport',
    'Max-Forwards: 70',
    'Route: <sip:198.51.100.7;lr;ftag=7c1e5a2b>',
    'From: "Alice Caller" <sip:+15559876543@198.51.100.7>;tag=7c1e5a2b',
    'To: <sip:+15551230000@203.0.113.20>;tag=as-81f3c0a9',
    'Call-ID: 3c26700b3a1f4f2a9c1b6d0e8f7a5b4c@198.51.100.7',
    'CSeq: 103 BYE',
  ]);
}

/** The 200 OK to a BYE we sent (Via is ours). */
function okToByeText(): string {
  return message([
    'SIP/2.0 200 OK',
    'Via: SIP/2.0/UDP 203.0.113.20:5060;branch=z9hG4bK-as-2f9d7e31;rport=5060',
    'From: <sip:+15551230000@203.0.113.20>;tag=as-81f3c0a9',
    'To: "Alice Caller" <sip:+15559876543@198.51.100.7>;tag=7c1e5a2b',
    'Call-ID: 3c26700b3a1f4f2a9c1b6d0e8f7a5b4c@198.51.100.7',
    'CSeq: 2 BYE',
  ]);
}

/** A benchmark of parseMessage on the datagram `text()` (built and checked once in setup). */
function parseBenchmark(name: string, text: () => string): Benchmark {
  let datagram: Buffer;
  const bench: Benchmark = {
    name,
    setup() {
      datagram = Buffer.from(text(), 'utf8');
      bench.bytesPerOp = datagram.length;
      // Measuring the error path by mistake would look fast: make sure the message is accepted.
      const r = parseMessage(datagram);
      if (!r.ok) throw new Error(`${name}: the benchmark message does not parse: ${r.error.message}`);
    },
    fn: () => parseMessage(datagram),
  };
  return bench;
}

/** parseMessage benchmarks. */
export const sipParserBenchmarks: Benchmark[] = [
  parseBenchmark('sip: parse INVITE + SDP', inviteText),
  parseBenchmark('sip: parse BYE', byeText),
  parseBenchmark('sip: parse 200 OK (BYE)', okToByeText),
];
