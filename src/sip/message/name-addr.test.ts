import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitCommaList } from './grammar.ts';
import { isAppError } from '../../lib/errors.ts';

const SipSyntaxError = (err: unknown): boolean => isAppError(err, 'SIP_SYNTAX');
import { formatNameAddr, parseNameAddr, tagOf } from './name-addr.ts';

test('name-addr with a quoted display name, escapes and header params', () => {
  const a = parseNameAddr('"J Rosenberg \\\\\\""       <sip:jdrosen@example.com>  ;  tag = 98asjd8');
  assert.equal(a.displayName, 'J Rosenberg \\"');
  assert.equal(a.uri.user, 'jdrosen');
  assert.equal(tagOf(a), '98asjd8');
});

test('token display names, with or without LWS before <', () => {
  assert.equal(parseNameAddr('Alice Liddell <sip:alice@example.com>').displayName, 'Alice Liddell');
  assert.equal(parseNameAddr('caller<sip:caller@example.com>;tag=323').displayName, 'caller');
  assert.equal(parseNameAddr('<sip:a@example.com>').displayName, undefined);
});

test('addr-spec: params after the URI are header params, not URI params', () => {
  const a = parseNameAddr('sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n');
  assert.equal(a.uri.host, 'chair-dnrc.example.com');
  assert.equal(a.uri.params.size, 0);
  assert.equal(tagOf(a), '1918181833n');
  const b = parseNameAddr('sip:+19725552222@gw1.example.net;unknownparam');
  assert.equal(b.params.get('unknownparam'), null);
});

test('name-addr keeps URI params inside <> apart from header params; quoted param values', () => {
  const a = parseNameAddr('<sip:services.example.com;lr;unknownwith=value;unknown-no-value>;q=0.5;x="a;b"');
  assert.deepEqual([...a.uri.params], [['lr', null], ['unknownwith', 'value'], ['unknown-no-value', null]]);
  assert.equal(a.params.get('q'), '0.5');
  assert.equal(a.params.get('x'), 'a;b');
});

test('formatNameAddr round-trips display name and params', () => {
  const a = parseNameAddr('"Quoted \\"x\\"" <sip:u@h:5060;transport=tcp>;tag=abc');
  assert.equal(formatNameAddr(a), '"Quoted \\"x\\"" <sip:u@h:5060;transport=tcp>;tag=abc');
  assert.deepEqual(parseNameAddr(formatNameAddr(a)).displayName, 'Quoted "x"');
});

test('IPv6 in name-addr', () => {
  const a = parseNameAddr('<sip:user@[2001:db8::9]:5060;transport=tcp>;tag=1');
  assert.equal(a.uri.host, '[2001:db8::9]');
  assert.equal(a.uri.port, 5060);
});

test('comma lists split outside quotes and brackets', () => {
  assert.deepEqual(splitCommaList('<sip:a@b;x=1,2>, "Doe, John" <sip:c@d> ,sip:e@f'), ['<sip:a@b;x=1,2>', '"Doe, John" <sip:c@d>', 'sip:e@f']);
  assert.deepEqual(splitCommaList('a,,b'), ['a', '', 'b']);
});

test('rejects malformed addresses', () => {
  for (const bad of ['"Mr. J. User <sip:j.user@example.com>', 'Bell, Alexander <sip:a.g.bell@example.com>',
    '"Watson, Thomas" < sip:t.watson@example.org >', 'sip:user@example.com?Route=%3Csip:sip.example.com%3E',
    '"Joe" <sip:joe@example.org>;;;;', '<sip:a@b', '', '"x" sip:a@b', '<sip:a@b> junk']) {
    assert.throws(() => parseNameAddr(bad), SipSyntaxError, bad);
  }
});
