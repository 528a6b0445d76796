import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventBus } from './bus.ts';
import { addLogSink } from '../lib/logger.ts';

test('events carry the standard headers in order, with a growing Event-Sequence', () => {
  const bus = new EventBus();
  const seen: string[][] = [];
  bus.subscribe((e) => seen.push(e.headers.map(([n]) => n)));
  bus.fire(bus.create('CHANNEL_CREATE'));
  const custom = bus.create('CUSTOM', 'mod_audio_stream::json');
  bus.fire(custom);
  assert.deepEqual(seen[0]!.slice(0, 3), ['Event-Name', 'Core-UUID', 'FreeSWITCH-Hostname']);
  assert.equal(seen[1]!.at(-1), 'Event-Subclass', 'a CUSTOM event\'s subclass follows Event-Sequence');
  assert.equal(Number(custom.get('Event-Sequence')), 2);
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
