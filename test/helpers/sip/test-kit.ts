import type { IncomingCall } from '../../../src/sip/dialog/call.ts';
import { FakeClock } from '../fake-clock.ts';
import { MemoryTransport } from './memory-transport.ts';
import type { SipMessage } from '../../../src/sip/message/message.ts';
import { parseMessage } from '../../../src/sip/message/parser.ts';
import { SipUserAgent, type SipUserAgentOptions } from '../../../src/sip/user-agent/user-agent.ts';

/** Fields of a request built by sipRequest (test support); unspecified ones get sensible defaults. */
export interface RequestSpec {
  method: string;
  uri?: string;
  callId?: string;
  fromTag?: string;
  toTag?: string;
  cseq?: number;
  cseqMethod?: string;
  branch?: string;
  /** Whole Via value (default `SIP/2.0/UDP 192.0.2.10:5062;branch=<branch>;rport`). */
  via?: string;
  contact?: string;
  body?: string;
  contentType?: string;
  maxForwards?: number;
  /** Extra raw header lines ("Require: 100rel"). */
  headers?: string[];
}

/** A minimal SDP offer for tests (PCMU on 192.0.2.10:4000). */
export const TEST_SDP = 'v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n';

/** Builds the text of a SIP request for tests (CRLF line ends, Content-Length computed). */
export function sipRequest(spec: RequestSpec): string {
  const branch = spec.branch ?? 'z9hG4bK-test-1';
  const lines = [
    `${spec.method} ${spec.uri ?? 'sip:service@127.0.0.1:5060'} SIP/2.0`,
    `Via: ${spec.via ?? `SIP/2.0/UDP 192.0.2.10:5062;branch=${branch};rport`}`,
    `Max-Forwards: ${spec.maxForwards ?? 70}`,
    `From: "Alice" <sip:alice@192.0.2.10:5062>;tag=${spec.fromTag ?? 'from-1'}`,
    `To: <sip:service@127.0.0.1:5060>${spec.toTag !== undefined ? `;tag=${spec.toTag}` : ''}`,
    `Call-ID: ${spec.callId ?? 'call-1@192.0.2.10'}`,
    `CSeq: ${spec.cseq ?? 1} ${spec.cseqMethod ?? spec.method}`,
    `Contact: ${spec.contact ?? '<sip:alice@192.0.2.10:5062>'}`,
    ...(spec.headers ?? []),
  ];
  const body = spec.body ?? '';
  if (body.length > 0) lines.push(`Content-Type: ${spec.contentType ?? 'application/sdp'}`);
  lines.push(`Content-Length: ${Buffer.byteLength(body)}`, '', body);
  return lines.join('\r\n');
}

/** Parses a message the UA sent (throws when it is not valid: our output must always parse). */
export function parseSent(text: string | Buffer): SipMessage {
  const r = parseMessage(typeof text === 'string' ? Buffer.from(text) : text, { stream: true });
  if (!r.ok) throw new Error(`UA sent an unparseable message (${r.error.message}):\n${text.toString()}`);
  return r.value;
}

/** A started UA on a MemoryTransport and a FakeClock, collecting its calls (test support). */
export interface TestUa {
  ua: SipUserAgent;
  clock: FakeClock;
  transport: MemoryTransport;
  calls: IncomingCall[];
}

/** Starts a SipUserAgent wired to a FakeClock and a MemoryTransport (T1 500 ms unless overridden). */
export async function startTestUa(options: Partial<SipUserAgentOptions> = {}): Promise<TestUa> {
  const clock = new FakeClock();
  const transport = new MemoryTransport();
  const ua = new SipUserAgent({ listen: { host: '127.0.0.1', port: 5060 }, ...options }, { clock, transport });
  const calls: IncomingCall[] = [];
  ua.onInvite = (call) => calls.push(call);
  await ua.start();
  return { ua, clock, transport, calls };
}

/** Status codes of the responses sent so far, in order (requests are skipped). */
export function sentStatuses(transport: MemoryTransport): number[] {
  return transport.sent.filter((m) => m.text.startsWith('SIP/2.0 ')).map((m) => Number(m.text.slice(8, 11)));
}

/** The response a peer would send to a request the UA sent (Via, From, To, Call-ID, CSeq copied). */
export function responseTo(requestText: string, status: number, toTag = 'remote-to'): string {
  const req = parseSent(requestText);
  const to = req.to.params.has('tag') ? req.to.raw : `${req.to.raw};tag=${toTag}`;
  return [`SIP/2.0 ${status} Whatever`, ...req.viaValues.map((v) => `Via: ${v}`), `From: ${req.from.raw}`, `To: ${to}`,
    `Call-ID: ${req.callId}`, `CSeq: ${req.cseq.seq} ${req.cseq.method}`, 'Content-Length: 0', '', ''].join('\r\n');
}

/** Lets promise callbacks (DNS-free next-hop resolution) run. */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
