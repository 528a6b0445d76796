import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventBus, eventSite } from './bus.ts';
import { addLogSink } from '../lib/logger.ts';

test('events carry the standard headers in order, with a growing Event-Sequence', () => {
  const bus = new EventBus();
  const seen: string[][] = [];
  bus.subscribe((e) => seen.push(e.headers.map(([n]) => n)));
  bus.fire(bus.create('CHANNEL_CREATE'));
  const custom = bus.create('CUSTOM', 'mod_audio_stream::json');
  bus.fire(custom);
  assert.deepEqual(seen[0], ['Event-Name', 'Core-UUID', 'FreeSWITCH-Hostname', 'FreeSWITCH-Switchname', 'FreeSWITCH-IPv4',
    'FreeSWITCH-IPv6', 'Event-Date-Local', 'Event-Date-GMT', 'Event-Date-Timestamp', 'Event-Calling-File', 'Event-Calling-Function',
    'Event-Calling-Line-Number', 'Event-Sequence']);
  // As every Event Socket client of FreeSWITCH 1.10.12 receives a CUSTOM event (plain, json and
  // xml alike, mod_audio_stream's and sendevent's): Event-Subclass first, then Event-Name.
  assert.deepEqual(seen[1], ['Event-Subclass', ...seen[0]!]);
  assert.equal(Number(custom.get('Event-Sequence')), 2);
});

const SITE = eventSite('bus.test.ts', 'makeEvent');

function makeEvent(bus: EventBus) {
  return bus.create('CUSTOM', 'test::site', SITE);
}

test('Event-Calling-File, -Function and -Line-Number name the function that made the event (its line found once)', () => {
  const bus = new EventBus();
  const first = makeEvent(bus);
  assert.equal(first.get('Event-Calling-File'), 'bus.test.ts');
  assert.equal(first.get('Event-Calling-Function'), 'makeEvent');
  assert.equal(first.get('Event-Calling-Line-Number'), '25', 'the line of bus.create in makeEvent');
  assert.equal(SITE.line, 25, 'kept on the site');
  assert.equal(makeEvent(bus).get('Event-Calling-Line-Number'), '25');
  const plain = bus.create('HEARTBEAT');
  assert.deepEqual([plain.get('Event-Calling-File'), plain.get('Event-Calling-Function')], ['bus.ts', 'EventBus.create']);
  assert.ok(Number(plain.get('Event-Calling-Line-Number')) > 0);
  const unknown = bus.create('HEARTBEAT', undefined, eventSite('nowhere.ts', 'nothing'));
  assert.equal(unknown.get('Event-Calling-Line-Number'), '0', 'a function not on the stack has line 0');
});

test('a listener that throws is counted and logged once per cause; the others still get every event', (t) => {
  const bus = new EventBus();
  const lines: string[] = [];
  t.after(addLogSink((level, scope, message) => { if (scope === 'events') lines.push(`${level} ${message}`); }));
  let delivered = 0;
  bus.subscribe(() => { throw new TypeError('listener bug'); });
  const unsubscribe = bus.subscribe(() => { delivered++; });
  for (let i = 0; i < 5; i++) bus.fire(bus.create('HEARTBEAT'));
  assert.equal(delivered, 5);
  assert.equal(bus.failures.count, 5);
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /^error an event listener failed: TypeError: listener bug/);
  unsubscribe();
  bus.fire(bus.create('HEARTBEAT'));
  assert.equal(delivered, 5, 'unsubscribed');
});
