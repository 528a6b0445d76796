import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventBus } from '../events/bus.ts';
import type { FsEvent } from '../events/event.ts';
import type { EventFormat } from '../events/serialize.ts';
import { Logger } from '../lib/logger.ts';
import { EslHub, eventFrame, type HubClient } from './hub.ts';

/** A hub client that keeps the frames it is given (as a listener subscribed in `format` would). */
class Recorder implements HubClient {
  readonly frames: Buffer[] = [];
  readonly logs: Buffer[] = [];
  flushes = 0;
  constructor(readonly format: EventFormat, readonly logLevel: number | undefined = undefined) {}
  deliverEvent(event: FsEvent): void { this.frames.push(eventFrame(event, this.format)); }
  deliverLog(_level: number, frame: Buffer): void { this.logs.push(frame); }
  flush(): number { this.flushes++; return 0; }
}

test('an event is serialized once per format: every client of a format gets the same Buffer', () => {
  const bus = new EventBus();
  const hub = new EslHub(bus);
  const clients = [new Recorder('plain'), new Recorder('plain'), new Recorder('json'), new Recorder('json'), new Recorder('xml')];
  for (const c of clients) hub.add(c);
  const e = bus.create('CUSTOM', 'test::once');
  e.body = 'x'.repeat(10_000);
  bus.fire(e);
  const [p1, p2, j1, j2, x1] = clients.map((c) => c.frames[0]!);
  assert.equal(p1, p2, 'the same plain Buffer');
  assert.equal(j1, j2, 'the same json Buffer');
  assert.notEqual(p1, j1);
  assert.match(p1!.toString('latin1', 0, 80), /^Content-Length: \d+\nContent-Type: text\/event-plain\n\n/);
  assert.match(j1!.toString('latin1', 0, 80), /^Content-Length: \d+\nContent-Type: text\/event-json\n\n/);
  assert.match(x1!.toString('latin1', 0, 80), /^Content-Length: \d+\nContent-Type: text\/event-xml\n\n/);
  for (const c of clients) hub.remove(c);
});

test('a log line is one Buffer for every client that logs', () => {
  const bus = new EventBus();
  const hub = new EslHub(bus);
  const a = new Recorder('plain', 7);
  const b = new Recorder('json', 7);
  hub.add(a);
  hub.add(b);
  hub.logLevelsChanged();
  new Logger('test-hub').notice('one line');
  hub.remove(a);
  hub.remove(b);
  const mine = (r: Recorder) => r.logs.filter((f) => f.includes('one line'));
  assert.equal(mine(a).length, 1);
  assert.equal(mine(a)[0], mine(b)[0]);
});

test('flushSoon: one setImmediate flushes every client that asked, once per request', async () => {
  const hub = new EslHub(new EventBus());
  const clients = Array.from({ length: 50 }, () => new Recorder('plain'));
  for (const c of clients) hub.flushSoon(c);
  assert.ok(clients.every((c) => c.flushes === 0), 'not before the end of the turn');
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  assert.ok(clients.every((c) => c.flushes === 1));
  assert.equal(hub.caughtUp(), undefined, 'not behind');
});
