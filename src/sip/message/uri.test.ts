import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAppError } from '../../lib/errors.ts';

const SipSyntaxError = (err: unknown): boolean => isAppError(err, 'SIP_SYNTAX');
import { formatUri, hostAddress, parseUri, unescapeUriPart, uriHost } from './uri.ts';

test('parses a full sip URI: user, password, host, port, params, headers', () => {
  const uri = parseUri('sip:alice:secret@atlanta.example.com:5070;transport=tcp;lr;maddr=239.255.255.1?subject=hi&priority=urgent');
  assert.equal(uri.scheme, 'sip');
  assert.equal(uri.user, 'alice');
  assert.equal(uri.password, 'secret');
  assert.equal(uri.host, 'atlanta.example.com');
  assert.equal(uri.port, 5070);
  assert.deepEqual([...uri.params], [['transport', 'tcp'], ['lr', null], ['maddr', '239.255.255.1']]);
  assert.equal(uri.headers, 'subject=hi&priority=urgent');
  assert.equal(formatUri(uri), 'sip:alice:secret@atlanta.example.com:5070;transport=tcp;lr;maddr=239.255.255.1?subject=hi&priority=urgent');
});

test('scheme is case-insensitive; sips is recognised; no user is fine', () => {
  const uri = parseUri('SIPS:example.com');
  assert.equal(uri.scheme, 'sips');
  assert.equal(uri.user, undefined);
  assert.equal(uri.host, 'example.com');
  assert.equal(uri.port, undefined);
});

test('IPv6 references keep their brackets; hostAddress strips them; uriHost adds them', () => {
  const uri = parseUri('sip:[2001:db8::10]:5070;transport=udp');
  assert.equal(uri.host, '[2001:db8::10]');
  assert.equal(uri.port, 5070);
  assert.equal(hostAddress(uri.host), '2001:db8::10');
  assert.equal(uriHost('2001:db8::10'), '[2001:db8::10]');
  assert.equal(uriHost('192.0.2.1'), '192.0.2.1');
  assert.equal(parseUri('sip:user@[::1]').host, '[::1]');
  assert.throws(() => parseUri('sip:[2001:db8::10'), SipSyntaxError);
  assert.throws(() => parseUri('sip:[zz::1]'), SipSyntaxError);
});

test('escaped characters stay escaped in fields and unescape on demand (never recursively)', () => {
  const uri = parseUri('sip:sips%3Auser%40example.com@example.net');
  assert.equal(uri.user, 'sips%3Auser%40example.com');
  assert.equal(unescapeUriPart(uri.user!), 'sips:user@example.com');
  const contact = parseUri('sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31');
  assert.equal(unescapeUriPart(contact.user!), 'caller');
  assert.equal(contact.params.get('n%61me'), 'v%61lue%25%34%31');
  assert.equal(unescapeUriPart('v%61lue%25%34%31'), 'value%41');
  assert.equal(unescapeUriPart('null-%00-null'), 'null-\u0000-null');
  assert.equal(unescapeUriPart('bad%zzescape'), 'bad%zzescape');
});

test('user part may hold ; ? / and the last @ ends it', () => {
  const uri = parseUri('sip:user;par=u%40example.net@example.com');
  assert.equal(uri.user, 'user;par=u%40example.net');
  assert.equal(uri.host, 'example.com');
  assert.equal(uri.params.size, 0);
});

test('non-SIP schemes are kept opaque', () => {
  const tel = parseUri('tel:+1-201-555-0123');
  assert.equal(tel.scheme, 'tel');
  assert.equal(tel.opaque, '+1-201-555-0123');
  assert.equal(tel.host, '');
  assert.equal(formatUri(tel), 'tel:+1-201-555-0123');
});

test('rejects malformed URIs', () => {
  for (const bad of ['', 'sip', ':foo', 'sip:', 'sip:user@', 'sip:host:99999', 'sip:host:', 'sip:ho st', 'sip:us er@host',
    ' sip:host', 'sip:host;;lr', 'sip:host;=x', 'sip:host?a b', '1sip:host', 'sip:-bad-.example.com', 'sip:host:12ab']) {
    assert.throws(() => parseUri(bad), SipSyntaxError, bad);
  }
  assert.throws(() => parseUri(`sip:${'a'.repeat(9000)}@example.com`), SipSyntaxError);
});
