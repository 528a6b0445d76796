import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plainAddress, sourceKey } from './source-address.ts';

test('plainAddress: IPv4-mapped IPv6 as IPv4, lower case, empty for none', () => {
  assert.equal(plainAddress('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(plainAddress('::FFFF:192.0.2.7'), '192.0.2.7');
  assert.equal(plainAddress('192.0.2.7'), '192.0.2.7');
  assert.equal(plainAddress('2001:DB8::1'), '2001:db8::1');
  assert.equal(plainAddress(undefined), '');
  assert.equal(plainAddress('::ffff:zz'), '::ffff:zz', 'not an IPv4 after the prefix: kept');
});

test('sourceKey: IPv4 by address, IPv6 by its /64, however the address is written', () => {
  assert.equal(sourceKey('192.0.2.7'), '192.0.2.7');
  assert.equal(sourceKey('::ffff:192.0.2.7'), '192.0.2.7', 'mapped IPv4 is the IPv4 source');
  const a = sourceKey('2001:db8:1:2::1');
  assert.equal(a, '2001:db8:1:2::/64');
  assert.equal(sourceKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff'), a, 'the whole /64 is one source');
  assert.equal(sourceKey('2001:DB8:1:2:a::b'), a);
  assert.notEqual(sourceKey('2001:db8:1:3::1'), a, 'the next /64 is another source');
  assert.equal(sourceKey('::1'), '0:0:0:0::/64');
  assert.equal(sourceKey('fe80::1%eth0'), 'fe80:0:0:0::/64', 'zone ignored');
  assert.equal(sourceKey('64:ff9b::192.0.2.7'), '64:ff9b:0:0::/64', 'a trailing dotted IPv4');
  assert.equal(sourceKey('2001:db8::'), '2001:db8:0:0::/64');
  assert.equal(sourceKey(''), '');
  assert.equal(sourceKey('not-an-address'), 'not-an-address', 'anything else counted as itself');
});
