import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { FakeClock } from '../../../test/helpers/fake-clock.ts';
import { MemoryTransport } from '../../../test/helpers/sip/memory-transport.ts';
import type { SipMessage } from './message.ts';
import { parseNameAddr, tagOf } from './name-addr.ts';
import { parseMessage } from './parser.ts';
import { unescapeUriPart } from './uri.ts';
import { SipUserAgent } from '../user-agent/user-agent.ts';

// RFC 4475 §3.1.1 (valid) and §3.1.2 (invalid) messages, reconstructed byte for byte from the RFC.
const DIR = new URL('../../../test/fixtures/sip/rfc4475/', import.meta.url);
const load = (kind: string, name: string): Buffer => readFileSync(new URL(`${kind}/${name}.sip`, DIR));

function valid(name: string): SipMessage {
  const r = parseMessage(load('valid', name));
  if (!r.ok) assert.fail(`${name}: ${r.error.message}`);
  return r.value;
}

test('the valid fixtures are the RFC 4475 Appendix A bytes (SHA-256)', () => {
  const want: Record<string, string> = {
    wsinv: 'd6f6cdee99cd0a1f8e3d9a0fdd67c877700e19ab86d8186dada06f61260e3e61', intmeth: 'b957a8292c1c0a9851fe94705b90f94320738f43aacde64998e401f742ef688d',
    esc01: 'be3a316d4ce5f69cad474646191e390dd4b50fc8371e44b5197fe1237781973e', escnull: '263fe2ecd12a5ccbb6c67b3174e9211d11da9b600e7d69666a86d2ee42873e90',
    esc02: '9a9c59449f00327b02071feafc8e5c2a261c98c818044167894cc17809a12199', lwsdisp: 'd1b36b6316c12824f6f04bf6b1fd1f021cade9b74871693b9c3474cd9fa7f4e6',
    longreq: '185739292bc676760e5b1cca77c87705aa570240171c506ad76f8c35af0ecdaa', dblreq: 'a6be48426565c2a705389c4ce2ea17e57b891cb13f80490a2cb9392c797b46ef',
    semiuri: '87bbaed6b4b354dbd3c5c7a20e66686303c63e43a0aa19b89de1ac75231611a2', transports: '33b4553a3b9418121b099ff07882535151edd6a1e81898c63a916aad2cbf90bc',
    mpart01: '92147c8e24997bac59629e1b163767697d0d6d499af87f89e325d69968bec3ba', unreason: '4f939d6ebf4817eea70f011d3209e83732872ffc20ffd304b244084dc392f4d7',
    noreason: '07e11e470a69fffa3674de805e5165d1351a9439a91045ee70c9570ea24ab4fe',
  };
  for (const [name, hash] of Object.entries(want)) {
    assert.equal(createHash('sha256').update(load('valid', name)).digest('hex'), hash, name);
  }
});

test('3.1.1.1 wsinv: folding, escaped quotes, empty Subject, LWS everywhere, mixed compact forms', () => {
  const m = valid('wsinv');
  assert.equal(m.method, 'INVITE');
  assert.equal(m.requestUri?.params.get('unknownparam'), null);
  assert.equal(tagOf(m.to), '1918181833n');
  assert.equal(m.from.displayName, 'J Rosenberg \\"');
  assert.equal(tagOf(m.from), '98asjd8');
  assert.equal(m.getHeader('max-forwards'), '0068');
  assert.deepEqual(m.cseq, { seq: 9, method: 'INVITE' });
  assert.deepEqual(m.via.map((v) => [v.transport, v.host, v.params.get('branch')]),
    [['UDP', '192.0.2.2', '390skdjuw'], ['TCP', 'spindle.example.com', 'z9hG4bK9ikj8'], ['UDP', '192.168.255.111', 'z9hG4bK30239']]);
  assert.equal(m.getHeader('subject'), '');
  assert.equal(m.getHeader('NewFangledHeader'), 'newfangled value continued newfangled value');
  assert.equal(m.getHeader('UnknownHeaderWithUnusualValue'), ';;,,;;,;');
  assert.equal(m.getList('route')[0], '<sip:services.example.com;lr;unknownwith=value;unknown-no-value>');
  assert.equal(m.body.length, 150);
});

test('3.1.1.1 wsinv: Contact display name and params', () => {
  const m = valid('wsinv');
  const contact = m.getList('contact');
  assert.equal(contact.length, 1);
  const c = parseNameAddr(contact[0]);
  assert.equal(c.displayName, 'Quoted string ""');
  assert.deepEqual([...c.params], [['newparam', 'newvalue'], ['secondparam', null], ['q', '0.33']]);
});

test('3.1.1.2 intmeth: unusual method and URI characters, control chars in quotes, UTF-8 values', () => {
  const m = valid('intmeth');
  assert.equal(m.method, "!interesting-Method0123456789_*+`.%indeed'~");
  assert.equal(m.requestUri?.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
  assert.equal(m.requestUri?.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
  assert.equal(m.to.displayName, 'BEL:\x07 NUL:\x00 DEL:\x7f');
  assert.equal(m.from.displayName, "token1~` token2'+_ token3*%!.-");
  assert.equal(m.from.params.get("fromparam''~+*_!.-%"), 'работающий');
  assert.equal(tagOf(m.from), "_token~1'+`*%!-.");
  assert.equal(m.callId, "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
  assert.equal(m.via[0].params.get('branch'), "z9hG4bK-.!%66*_+`'~");
  assert.equal(m.getHeader("extensionHeader-!.%*+_`'~"), '\ufeff大停電');
});

test('3.1.1.3 esc01 / 3.1.1.4 escnull / 3.1.1.5 esc02: %-escapes only where the grammar has them', () => {
  const e1 = valid('esc01');
  assert.equal(unescapeUriPart(e1.requestUri!.user!), 'sips:user@example.com');
  assert.equal(unescapeUriPart(e1.to.uri.user!), 'user');
  assert.equal(unescapeUriPart(e1.from.uri.user!), 'I have spaces');
  assert.equal(e1.callId, 'esc01.239409asdfakjkn23onasd0-3234');
  assert.equal(e1.contentType, 'application/sdp');
  const en = valid('escnull');
  assert.equal(unescapeUriPart(en.to.uri.user!), 'null-\u0000-null');
  assert.deepEqual(en.getList('contact'), ['<sip:%00@host5.example.com>', '<sip:%00%00@host5.example.com>']);
  const e2 = valid('esc02');
  assert.equal(e2.method, 'RE%47IST%45R');
  assert.equal(e2.to.displayName, '%Z%45');
  assert.equal(e2.getList('contact').length, 2);
  assert.equal(e2.getHeader('C%6Fntact'), '<sip:alias2@host2.example.com>');
  assert.equal(e2.via[0].params.get('branch'), 'z9hG4bK209%fzsnel234');
});

test('3.1.1.6 lwsdisp / 3.1.1.7 longreq / 3.1.1.8 dblreq / 3.1.1.9 semiuri / 3.1.1.10 transports', () => {
  assert.equal(valid('lwsdisp').from.displayName, 'caller');
  const lr = valid('longreq');
  assert.equal(lr.via.length, 34);
  assert.equal(lr.via[0].host, 'sip33.example.com');
  assert.equal(lr.via[33].params.get('received'), '192.0.2.5');
  assert.equal(lr.to.uri.port, 6000);
  assert.equal(lr.to.uri.params.size, 3);
    assert.match(tagOf(lr.from) ?? '', /^12982982.*2424$/);
  assert.equal(lr.body.length, 150);
  const dbl = valid('dblreq');
  assert.equal(dbl.method, 'REGISTER');
  assert.equal(dbl.body.length, 0, 'the INVITE after Content-Length: 0 is noise');
  assert.equal(dbl.callId, 'dblreq.0ha0isndaksdj99sdfafnl3lk233412');
  const semi = valid('semiuri');
  assert.equal(semi.requestUri?.user, 'user;par=u%40example.net');
  assert.equal(semi.requestUri?.host, 'example.com');
  assert.equal(semi.getList('accept').length, 6);
  assert.deepEqual(valid('transports').via.map((v) => v.transport), ['UDP', 'SCTP', 'TLS', 'UNKNOWN', 'TCP']);
});

test('3.1.1.11 mpart01 / 3.1.1.12 unreason / 3.1.1.13 noreason', () => {
  const mp = valid('mpart01');
  assert.equal(mp.body.length, 553);
  assert.ok(mp.body.includes(0x00), 'binary part with NULs is intact');
  assert.equal(mp.contentType, 'multipart/mixed');
  assert.equal(mp.via[0].params.get('rport'), null);
  const un = valid('unreason');
  assert.equal(un.status, 200);
  assert.equal(un.reason, '= 2**3 * 5**2 но сто девяносто девять - простое');
  assert.equal(un.body.length, 154);
  const no = valid('noreason');
  assert.equal(no.status, 100);
  assert.equal(no.reason, '');
});

test('3.1.2 invalid messages: the parser refuses each one (400, 505 for badvers, drop for responses)', () => {
  const expected: Record<string, number> = { badvers: 505, scalarlg: 0, bigcode: 0 };
  const names = readdirSync(new URL('invalid/', DIR)).map((f) => f.replace(/\.sip$/, ''));
  assert.equal(names.length, 19);
  for (const name of names) {
    const r = parseMessage(load('invalid', name));
    assert.equal(r.ok, false, `${name} must be refused`);
    if (!r.ok) assert.equal(r.error.status, expected[name] ?? 400, `${name}: ${r.error.message}`);
  }
});

test('through the UA: invalid requests get 400/505 or nothing, valid ones never a 400, nothing throws', async () => {
  const transport = new MemoryTransport();
  const ua = new SipUserAgent({ listen: { host: '127.0.0.1', port: 5060 } }, { clock: new FakeClock(), transport });
  const invites: string[] = [];
  ua.onInvite = (call) => {
    invites.push(call.callId);
    call.reject(486);
  };
  await ua.start();
  for (const name of readdirSync(new URL('invalid/', DIR)).map((f) => f.replace(/\.sip$/, ''))) {
    const before = transport.sent.length;
    transport.inject(load('invalid', name));
    const replies = transport.sent.slice(before).map((s) => Number(s.text.split(' ')[1]));
    const allowed = name === 'badvers' ? [505] : [400];
    assert.ok(replies.length === 0 || (replies.length === 1 && allowed.includes(replies[0])), `${name}: ${replies}`);
    if (!['scalarlg', 'bigcode', 'badvers'].includes(name)) assert.deepEqual(replies, [400], `${name} is answered 400`);
    if (name === 'badvers') assert.deepEqual(replies, [505]);
  }
  assert.equal(ua.stats.malformed, 19);
  for (const name of readdirSync(new URL('valid/', DIR)).map((f) => f.replace(/\.sip$/, ''))) {
    const before = transport.sent.length;
    transport.inject(load('valid', name));
    for (const s of transport.sent.slice(before)) assert.doesNotMatch(s.text, /^SIP\/2\.0 400/, name);
    if (name === 'wsinv') assert.match(transport.sent.at(-1)?.text ?? '', /^SIP\/2\.0 481 /, 'wsinv has a To tag: no such dialog');
    if (name === 'intmeth' || name === 'esc02') assert.match(transport.sent.at(-1)?.text ?? '', /^SIP\/2\.0 501 /, `${name}: unknown method`);
  }
  assert.equal(ua.stats.malformed, 19, 'no valid message counted as malformed');
  assert.deepEqual(invites.sort(), ['esc01.239409asdfakjkn23onasd0-3234', 'longreq.onereallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreallyreallylongcallid']);
  await ua.close();
});
