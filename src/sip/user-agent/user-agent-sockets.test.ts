import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { parseMessage } from '../message/parser.ts';
import type { SipMessage } from '../message/message.ts';
import { SipStreamFramer } from '../transport/stream-framer.ts';
import { sipRequest, TEST_SDP } from '../../../test/helpers/sip/test-kit.ts';
import { SipUserAgent } from './user-agent.ts';

/** A tiny UDP SIP client: sends raw text, collects parsed messages. */
async function udpClient(host = '127.0.0.1') {
  const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((resolve) => socket.bind(0, host, resolve));
  const inbox: SipMessage[] = [];
  const waiters: Array<() => void> = [];
  socket.on('message', (data) => {
    const r = parseMessage(data);
    if (r.ok) inbox.push(r.value);
    for (const w of waiters.splice(0)) w();
  });
  return {
    port: socket.address().port,
    send: (text: string, port: number) => socket.send(Buffer.from(text), port, host),
    next: (predicate: (m: SipMessage) => boolean, timeoutMs = 3000) => waitFor(inbox, waiters, predicate, timeoutMs),
    inbox,
    close: () => socket.close(),
  };
}

/** A tiny TCP SIP client: one connection, messages framed like the UA does. */
async function tcpClient(port: number) {
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const framer = new SipStreamFramer(65536);
  const inbox: SipMessage[] = [];
  const waiters: Array<() => void> = [];
  let closed = false;
  socket.on('data', (chunk) => {
    for (const data of framer.push(chunk).messages) {
      const r = parseMessage(data, { stream: true });
      if (r.ok) inbox.push(r.value);
    }
    for (const w of waiters.splice(0)) w();
  });
  socket.on('close', () => {
    closed = true;
    for (const w of waiters.splice(0)) w();
  });
  return {
    localPort: socket.localPort!,
    write: (data: string | Buffer) => socket.write(data),
    next: (predicate: (m: SipMessage) => boolean, timeoutMs = 3000) => waitFor(inbox, waiters, predicate, timeoutMs),
    closed: () => closed,
    waitClosed: () => new Promise<void>((resolve) => (closed ? resolve() : socket.once('close', () => resolve()))),
    close: () => socket.destroy(),
  };
}

function waitFor(inbox: SipMessage[], waiters: Array<() => void>, predicate: (m: SipMessage) => boolean, timeoutMs: number): Promise<SipMessage> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out waiting for a SIP message')), timeoutMs);
    const check = (): void => {
      const i = inbox.findIndex(predicate);
      if (i >= 0) {
        clearTimeout(timer);
        resolve(inbox.splice(i, 1)[0]);
      } else {
        waiters.push(check);
      }
    };
    check();
  });
}

const isStatus = (status: number, method?: string) => (m: SipMessage) => m.status === status && (method === undefined || m.cseq.method === method);

async function startUa(): Promise<SipUserAgent> {
  const ua = new SipUserAgent({ listen: { host: '127.0.0.1', port: 0 }, timers: { T1: 50, T2: 200, T4: 250 } });
  ua.onInvite = (call) => {
    call.progress(180);
    call.answer('v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5004 RTP/AVP 0\r\n');
    call.onBye = () => {};
  };
  await ua.start();
  return ua;
}

test('UDP end to end: INVITE → 100/180/200 with rport, ACK, BYE → 200; UDP and TCP share the port', async () => {
  const ua = await startUa();
  const client = await udpClient();
  const { port } = ua.address;
  const via = `SIP/2.0/UDP 127.0.0.1:${client.port};branch=z9hG4bK-u1;rport`;
  client.send(sipRequest({ method: 'INVITE', via, body: TEST_SDP, contact: `<sip:c@127.0.0.1:${client.port}>` }), port);
  const trying = await client.next(isStatus(100));
  assert.equal(trying.via[0].params.get('rport'), String(client.port));
  assert.equal(trying.via[0].params.get('received'), '127.0.0.1');
  await client.next(isStatus(180));
  const ok = await client.next(isStatus(200, 'INVITE'));
  assert.match(ok.bodyText, /m=audio 5004/);
  const tag = ok.to.params.get('tag')!;
  client.send(sipRequest({ method: 'ACK', via: `SIP/2.0/UDP 127.0.0.1:${client.port};branch=z9hG4bK-u2;rport`, toTag: tag }), port);
  client.send(sipRequest({ method: 'BYE', via: `SIP/2.0/UDP 127.0.0.1:${client.port};branch=z9hG4bK-u3;rport`, toTag: tag, cseq: 2 }), port);
  await client.next(isStatus(200, 'BYE'));
  const probe = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => probe.once('connect', resolve).once('error', reject));
  probe.destroy();
  assert.ok(ua.stats.received >= 3);
  assert.ok(ua.stats.sent >= 4);
  client.close();
  await ua.close();
});

test('TCP end to end: split chunks and two messages in one chunk; our BYE reuses the connection', async () => {
  const ua = await startUa();
  let hangup: (() => void) | undefined;
  const onInvite = ua.onInvite;
  ua.onInvite = (call) => {
    onInvite(call);
    hangup = () => call.hangup();
  };
  const client = await tcpClient(ua.address.port);
  const via = (b: string): string => `SIP/2.0/TCP 127.0.0.1:${client.localPort};branch=z9hG4bK-${b}`;
  const invite = Buffer.from(sipRequest({ method: 'INVITE', via: via('t1'), body: TEST_SDP, contact: '<sip:c@127.0.0.1:9;transport=tcp>' }));
  client.write(invite.subarray(0, 37));
  await new Promise((r) => setTimeout(r, 20));
  client.write(invite.subarray(37, invite.length - 5));
  await new Promise((r) => setTimeout(r, 20));
  client.write(invite.subarray(invite.length - 5));
  const ok = await client.next(isStatus(200, 'INVITE'));
  const tag = ok.to.params.get('tag')!;
  client.write(sipRequest({ method: 'ACK', via: via('t2'), toTag: tag }) + sipRequest({ method: 'OPTIONS', via: via('t3'), toTag: tag, cseq: 2 }));
  await client.next(isStatus(200, 'OPTIONS'));
  hangup!();
  const bye = await client.next((m) => m.isRequest && m.method === 'BYE');
  assert.equal(bye.via[0].transport, 'TCP');
  assert.equal(bye.requestUriText, 'sip:c@127.0.0.1:9;transport=tcp', 'Request-URI is the Contact, but it went over our connection');
  client.write(`SIP/2.0 200 OK\r\n${bye.viaValues.map((v) => `Via: ${v}`).join('\r\n')}\r\nFrom: ${bye.from.raw}\r\nTo: ${bye.to.raw}\r\nCall-ID: ${bye.callId}\r\nCSeq: ${bye.cseq.seq} BYE\r\nContent-Length: 0\r\n\r\n`);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(ua.stats.retransmissions, 0, 'no BYE retransmission over TCP');
  client.close();
  await ua.close();
});

test('TCP: a malformed stream (bad Content-Length) closes that connection only; keepalive ping gets a pong', async () => {
  const ua = await startUa();
  const good = await tcpClient(ua.address.port);
  const bad = await tcpClient(ua.address.port);
  bad.write(sipRequest({ method: 'OPTIONS', via: 'SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bK-b' }).replace('Content-Length: 0', 'Content-Length: -5'));
  await bad.waitClosed();
  assert.equal(ua.stats.framingErrors, 1);
  const raw = net.connect({ host: '127.0.0.1', port: ua.address.port });
  const pong = await new Promise<string>((resolve) => {
    raw.once('connect', () => raw.write('\r\n\r\n'));
    raw.once('data', (d) => resolve(d.toString()));
  });
  assert.equal(pong, '\r\n');
  raw.destroy();
  good.write(sipRequest({ method: 'OPTIONS', via: `SIP/2.0/TCP 127.0.0.1:${good.localPort};branch=z9hG4bK-g` }));
  await good.next(isStatus(200, 'OPTIONS'));
  good.close();
  await ua.close();
});

test('TCP: a message over maxMessageBytes closes the connection', async () => {
  const ua = new SipUserAgent({ listen: { host: '127.0.0.1', port: 0 }, maxMessageBytes: 4096 });
  await ua.start();
  const client = await tcpClient(ua.address.port);
  client.write(sipRequest({ method: 'OPTIONS', headers: [`X-Pad: ${'x'.repeat(5000)}`] }));
  await client.waitClosed();
  assert.equal(ua.stats.framingErrors, 1);
  await ua.close();
});

test('start() rejects with EADDRINUSE when the port is taken; IPv6 loopback works', async () => {
  const ua = await startUa();
  const clash = new SipUserAgent({ listen: { host: '127.0.0.1', port: ua.address.port } });
  await assert.rejects(clash.start(), (err: Error & { code?: string }) => err.code === 'EADDRINUSE' && /EADDRINUSE/.test(err.message));
  await clash.close();
  await ua.close();
  const v6 = new SipUserAgent({ listen: { host: '::1', port: 0 } });
  try {
    await v6.start();
  } catch {
    return; // no IPv6 loopback on this machine
  }
  const client = await udpClient('::1');
  client.send(sipRequest({ method: 'OPTIONS', via: `SIP/2.0/UDP [::1]:${client.port};branch=z9hG4bK-v6;rport` }), v6.address.port);
  const res = await client.next(isStatus(200));
  assert.equal(res.via[0].params.get('rport'), String(client.port));
  client.close();
  await v6.close();
});

test('hangup right before close(): the BYE still goes out and close() waits for its 200', async () => {
  const ua = await startUa();
  let call: import('../dialog/call.ts').IncomingCall | undefined;
  const onInvite = ua.onInvite;
  ua.onInvite = (c) => {
    onInvite(c);
    call = c;
  };
  const client = await udpClient();
  const via = (b: string): string => `SIP/2.0/UDP 127.0.0.1:${client.port};branch=z9hG4bK-${b};rport`;
  client.send(sipRequest({ method: 'INVITE', via: via('c1'), body: TEST_SDP, contact: `<sip:c@127.0.0.1:${client.port}>` }), ua.address.port);
  const ok = await client.next(isStatus(200, 'INVITE'));
  client.send(sipRequest({ method: 'ACK', via: via('c2'), toTag: ok.to.params.get('tag')! }), ua.address.port);
  await new Promise((r) => setTimeout(r, 30));
  call!.hangup();
  const started = Date.now();
  const closing = ua.close();
  const bye = await client.next((m) => m.method === 'BYE' && m.isRequest);
  client.send(`SIP/2.0 200 OK\r\n${bye.viaValues.map((v) => `Via: ${v}`).join('\r\n')}\r\nFrom: ${bye.from.raw}\r\nTo: ${bye.to.raw}\r\nCall-ID: ${bye.callId}\r\nCSeq: ${bye.cseq.seq} BYE\r\nContent-Length: 0\r\n\r\n`, ua.address.port);
  await closing;
  assert.ok(Date.now() - started < 1000, 'close() returned once the BYE was answered');
  client.close();
});

test('TCP idle timeout closes unused connections but not one carrying a call', async () => {
  const ua = new SipUserAgent({ listen: { host: '127.0.0.1', port: 0 }, tcpIdleTimeoutMs: 150 });
  ua.onInvite = (call) => call.answer('v=0\r\n');
  await ua.start();
  const idle = await tcpClient(ua.address.port);
  const busy = await tcpClient(ua.address.port);
  busy.write(sipRequest({ method: 'INVITE', via: `SIP/2.0/TCP 127.0.0.1:${busy.localPort};branch=z9hG4bK-i`, body: TEST_SDP }));
  const ok = await busy.next(isStatus(200, 'INVITE'));
  busy.write(sipRequest({ method: 'ACK', via: `SIP/2.0/TCP 127.0.0.1:${busy.localPort};branch=z9hG4bK-a`, toTag: ok.to.params.get('tag')! }));
  await idle.waitClosed();
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(busy.closed(), false, 'a connection used by a call stays open');
  busy.write(sipRequest({ method: 'BYE', via: `SIP/2.0/TCP 127.0.0.1:${busy.localPort};branch=z9hG4bK-b`, toTag: ok.to.params.get('tag')!, cseq: 2 }));
  await busy.next(isStatus(200, 'BYE'));
  await busy.waitClosed();
  await ua.close();
});
