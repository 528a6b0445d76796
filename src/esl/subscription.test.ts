// Subscription rules of mod_event_socket.c (parse_command `event`/`nixevent`/`filter`, event_handler).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FsEvent } from '../events/event.ts';
import { EventSubscription } from './subscription.ts';
import { nameEvent } from './event-names.ts';
import { Acl } from '../lib/acl.ts';
import { isAppError } from '../lib/errors.ts';

const AclError = (err: unknown): boolean => isAppError(err, 'ACL_INVALID');

function ev(name: string, headers: Record<string, string> = {}, subclass?: string): FsEvent {
  const e = new FsEvent(name, subclass);
  for (const [k, v] of Object.entries(headers)) e.add(k, v);
  return e;
}

test('event names: case-insensitive, SWITCH_EVENT_ prefix accepted', () => {
  assert.equal(nameEvent('channel_answer'), 'CHANNEL_ANSWER');
  assert.equal(nameEvent('SWITCH_EVENT_DTMF'), 'DTMF');
  assert.equal(nameEvent('NOPE'), undefined);
});

test('names accumulate; the first token may be a format; unknown names are ignored', () => {
  const s = new EventSubscription();
  assert.deepEqual(s.subscribe(['json', 'BACKGROUND_JOB', 'bogus']), { format: 'json', keys: 1 });
  assert.deepEqual(s.subscribe(['CHANNEL_ANSWER']), { format: undefined, keys: 1 });
  assert.ok(s.wants(ev('BACKGROUND_JOB')));
  assert.ok(s.wants(ev('CHANNEL_ANSWER')));
  assert.ok(!s.wants(ev('CHANNEL_HANGUP')));
  assert.deepEqual(s.subscribe(['plain']), { format: 'plain', keys: 0 });
});

test('CUSTOM: tokens after it are subclasses; CUSTOM alone does not deliver subclassed events', () => {
  const s = new EventSubscription();
  s.subscribe(['CUSTOM']);
  assert.ok(!s.wants(ev('CUSTOM', {}, 'mod_audio_stream::json')));
  s.subscribe(['CUSTOM', 'mod_audio_stream::json', 'BACKGROUND_JOB']);
  assert.ok(s.wants(ev('CUSTOM', {}, 'mod_audio_stream::json')));
  assert.ok(!s.wants(ev('CUSTOM', {}, 'mod_audio_stream::connect')));
  // BACKGROUND_JOB after CUSTOM was taken as a subclass, as FreeSWITCH does.
  assert.ok(!s.wants(ev('BACKGROUND_JOB')));
});

test('ALL delivers everything; nixevent of one name after ALL keeps the others', () => {
  const s = new EventSubscription();
  s.subscribe(['ALL']);
  assert.ok(s.wants(ev('CUSTOM', {}, 'anything::here')));
  assert.equal(s.unsubscribe(['DTMF']), 1);
  assert.ok(!s.wants(ev('DTMF')));
  assert.ok(s.wants(ev('CHANNEL_ANSWER')));
  s.unsubscribe(['ALL']);
  assert.ok(!s.wants(ev('CHANNEL_ANSWER')));
});

test('noevents forgets everything and reports whether events were on', () => {
  const s = new EventSubscription();
  assert.equal(s.clear(), false);
  s.subscribe(['ALL']);
  assert.equal(s.clear(), true);
  assert.ok(!s.wants(ev('CHANNEL_ANSWER')));
});

test('filters: an include filter must match (case-insensitive), an exclude filter vetoes', () => {
  const s = new EventSubscription();
  s.subscribe(['ALL']);
  s.addFilter('Unique-ID', 'AAA');
  assert.ok(s.wants(ev('X', { 'Unique-ID': 'aaa' })));
  assert.ok(!s.wants(ev('X', { 'Unique-ID': 'bbb' })));
  assert.ok(!s.wants(ev('X')));
  s.addFilter('Event-Name', '-X');
  assert.ok(!s.wants(ev('X', { 'Unique-ID': 'aaa' })));
  s.deleteFilter('event-name', undefined);
  assert.ok(s.wants(ev('X', { 'Unique-ID': 'aaa' })));
  s.deleteFilter('all', undefined);
  assert.equal(s.filterCount, 0);
  assert.ok(s.wants(ev('X', { 'Unique-ID': 'bbb' })));
});

test('filters: /regex/ values, and only exclude filters let nothing through (as FreeSWITCH)', () => {
  const s = new EventSubscription();
  s.subscribe(['ALL']);
  s.addFilter('Event-Name', '/^CHANNEL_(ANSWER|HANGUP)$/');
  assert.ok(s.wants(ev('CHANNEL_ANSWER')));
  assert.ok(!s.wants(ev('CHANNEL_CREATE')));
  const t = new EventSubscription();
  t.subscribe(['ALL']);
  t.addFilter('Event-Name', '-DTMF');
  assert.ok(!t.wants(ev('CHANNEL_ANSWER')));
});

test('myevents: only the call\'s Unique-ID, or background jobs it owns', () => {
  const s = new EventSubscription();
  s.subscribeMyEvents('u1');
  assert.ok(s.wants(ev('CHANNEL_ANSWER', { 'Unique-ID': 'u1' })));
  assert.ok(!s.wants(ev('CHANNEL_ANSWER', { 'Unique-ID': 'u2' })));
  assert.ok(!s.wants(ev('CUSTOM', { 'Unique-ID': 'u1' }, 'mod_audio_stream::connect')));
  s.subscribe(['BACKGROUND_JOB']);
  assert.ok(s.wants(ev('BACKGROUND_JOB', { 'Job-Owner-UUID': 'u1' })));
  assert.ok(!s.wants(ev('BACKGROUND_JOB', { 'Job-Owner-UUID': 'u2' })));
});

test('ACL: IPv4 and IPv6 CIDRs, IPv4-mapped clients, empty list allows all, bad entries refused', () => {
  const acl = new Acl(['127.0.0.0/8', '::1/128', '10.1.2.3']);
  assert.ok(acl.allows('127.0.0.1'));
  assert.ok(acl.allows('127.255.0.9'));
  assert.ok(acl.allows('::ffff:127.0.0.1'));
  assert.ok(acl.allows('::1'));
  assert.ok(acl.allows('10.1.2.3'));
  assert.ok(!acl.allows('10.1.2.4'));
  assert.ok(!acl.allows('192.168.1.1'));
  assert.ok(!acl.allows('::2'));
  assert.ok(!acl.allows(undefined));
  assert.ok(new Acl([]).allows('8.8.8.8'));
  assert.throws(() => new Acl(['127.0.0.0/33']), AclError);
  assert.throws(() => new Acl(['not-an-ip/8']), AclError);
  assert.throws(() => new Acl(['::1/129']), AclError);
});
