// The FreeSWITCH-shaped channel, made through the registry: its events (CHANNEL_CREATE, answer,
// the hangup sequence), its standard variables and event headers, the endpoint it asks to change
// state, and its media bugs (frames, self-removal during a frame, format changes, close on hangup).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventBus } from '../events/bus.ts';
import { FsEvent } from '../events/event.ts';
import type { FrameFormat, MediaBug } from '../bug/media-bug.ts';
import { ChannelRegistry } from './registry.ts';
import type { Channel, ChannelCodec, ChannelEndpoint } from './channel.ts';
import type { HangupCause } from './hangup-cause.ts';
import { addLogSink } from '../lib/logger.ts';

const PCMU: ChannelCodec = { name: 'PCMU', rateHz: 8000, ptimeMs: 20 };

/** An endpoint that records what the channel asks of it and answers `accept`. */
class RecordingEndpoint implements ChannelEndpoint {
  readonly calls: string[] = [];
  readonly channels: Channel[] = [];
  constructor(private readonly accept = true, private readonly log?: string[]) {}
  preAnswer(channel: Channel): boolean {
    this.record('preAnswer', channel);
    return this.accept;
  }
  answer(channel: Channel): boolean {
    this.record('answer', channel);
    return this.accept;
  }
  hangup(channel: Channel, cause: HangupCause): void {
    this.record(`hangup:${cause}`, channel);
  }
  private record(what: string, channel: Channel): void {
    this.calls.push(what);
    this.channels.push(channel);
    this.log?.push(`endpoint:${what}`);
  }
}

/** A media bug that records every call; `onFrameHook` runs inside onFrame. */
class RecordingBug implements MediaBug {
  readonly frames: Array<{ read: Int16Array | null; write: Int16Array | null; dueMs: number }> = [];
  readonly formats: FrameFormat[] = [];
  closes = 0;
  onFrameHook: (() => void) | undefined;
  constructor(readonly name: string, private readonly log?: string[]) {}
  onFrame(read: Int16Array | null, write: Int16Array | null, dueMs: number): void {
    this.frames.push({ read, write, dueMs });
    this.log?.push(`bug:${this.name}:frame:${dueMs}`);
    this.onFrameHook?.();
  }
  onFormatChange(format: FrameFormat): void {
    this.formats.push(format);
  }
  onDtmf(digit: string): void {
    this.log?.push(`bug:${this.name}:dtmf:${digit}`);
  }
  onChannelClose(): void {
    this.closes++;
    this.log?.push(`bug:${this.name}:close`);
  }
}

interface Setup {
  bus: EventBus;
  registry: ChannelRegistry;
  events: FsEvent[];
  endpoint: RecordingEndpoint;
  channel: Channel;
  log: string[];
}

/** A registry on its own bus, every event collected, and one channel made with a recording endpoint. */
function setup(opts: { accept?: boolean; uuid?: string } = {}): Setup {
  const bus = new EventBus();
  const registry = new ChannelRegistry(bus);
  const events: FsEvent[] = [];
  const log: string[] = [];
  bus.subscribe((e) => {
    events.push(e);
    log.push(`event:${e.name}`);
  });
  const endpoint = new RecordingEndpoint(opts.accept ?? true, log);
  const channel = registry.create(endpoint, 'sofia/internal/1000@192.0.2.1', PCMU, {
    callerIdName: 'Alice', callerIdNumber: '1000', destinationNumber: '5551234', networkAddr: '192.0.2.1',
  }, opts.uuid);
  return { bus, registry, events, endpoint, channel, log };
}

function names(events: FsEvent[]): string[] {
  return events.map((e) => e.name);
}

test('create: registered, CHANNEL_CREATE fired once with the channel headers and variables', () => {
  const { registry, events, channel, endpoint } = setup({ uuid: '11111111-2222-3333-4444-555555555555' });
  assert.equal(channel.uuid, '11111111-2222-3333-4444-555555555555');
  assert.equal(registry.get(channel.uuid), channel);
  assert.equal(registry.size, 1);
  assert.deepEqual([...registry], [channel]);
  assert.deepEqual(names(events), ['CHANNEL_CREATE']);
  const e = events[0]!;
  assert.equal(e.get('Unique-ID'), channel.uuid);
  assert.equal(e.get('Channel-Name'), 'sofia/internal/1000@192.0.2.1');
  assert.equal(e.get('Channel-State'), 'CS_NEW');
  assert.equal(e.get('Channel-State-Number'), '0');
  assert.equal(e.get('Channel-Call-State'), 'RINGING');
  assert.equal(e.get('Answer-State'), 'ringing');
  assert.equal(e.get('Caller-Caller-ID-Number'), '1000');
  assert.equal(e.get('Caller-Destination-Number'), '5551234');
  assert.equal(e.get('variable_uuid'), channel.uuid);
  assert.equal(e.get('Hangup-Cause'), undefined, 'no cause before hangup');
  // The bus stamps its standard headers first, in FreeSWITCH's order.
  assert.deepEqual(e.headers.slice(0, 2).map(([n]) => n), ['Event-Name', 'Core-UUID']);
  assert.equal(endpoint.calls.length, 0, 'creating asks nothing of the endpoint');
  assert.equal(channel.state, 'CS_NEW');
  assert.equal(channel.answerState, 'ringing');
  assert.equal(channel.isHungUp, false);
  channel.hangup();
});

test('create: a uuid already registered is refused with RangeError', () => {
  const { registry, channel } = setup();
  assert.throws(() => registry.create(new RecordingEndpoint(), 'x', PCMU, {}, channel.uuid), RangeError);
  assert.equal(registry.size, 1);
  assert.equal(registry.get(channel.uuid), channel, 'the first channel stays');
  channel.hangup();
});

test('standard variables: uuid, channel name, caller profile, codec; defaults of the caller profile', () => {
  const { channel, registry } = setup();
  assert.deepEqual([...channel.variables], [
    ['uuid', channel.uuid],
    ['channel_name', 'sofia/internal/1000@192.0.2.1'],
    ['caller_id_number', '1000'],
    ['caller_id_name', 'Alice'],
    ['destination_number', '5551234'],
    ['read_codec', 'PCMU'],
    ['read_rate', '8000'],
    ['write_codec', 'PCMU'],
    ['write_rate', '8000'],
  ]);
  assert.equal(channel.getVariable('read_rate'), '8000');
  assert.equal(channel.getVariable('nope'), undefined);
  channel.setVariable('foo', 'bar');
  assert.equal(channel.getVariable('foo'), 'bar');
  channel.setVariable('foo', undefined);
  assert.equal(channel.getVariable('foo'), undefined);
  assert.equal(channel.variables.has('foo'), false, 'undefined unsets');
  assert.deepEqual(channel.caller, {
    callerIdName: 'Alice', callerIdNumber: '1000', destinationNumber: '5551234', networkAddr: '192.0.2.1',
    source: 'audio-stream', context: 'default', dialplan: 'XML', username: '',
  });
  const bare = registry.create(new RecordingEndpoint(), 'bare', PCMU, {});
  assert.equal(bare.getVariable('caller_id_number'), '');
  assert.equal(bare.caller.context, 'default');
  assert.equal(bare.direction, 'inbound');
  bare.hangup();
  channel.hangup();
});

test('preAnswer and answer ask the endpoint once each and fire CHANNEL_PROGRESS_MEDIA, CHANNEL_ANSWER', () => {
  const { channel, endpoint, events } = setup();
  assert.equal(channel.preAnswer(), true);
  assert.equal(channel.answerState, 'early');
  assert.deepEqual(endpoint.calls, ['preAnswer']);
  assert.equal(endpoint.channels[0], channel, 'the endpoint is handed the channel');
  assert.equal(channel.preAnswer(), true, 'already early');
  assert.deepEqual(endpoint.calls, ['preAnswer'], 'not asked twice');
  assert.equal(channel.answeredAtUs, 0n);
  assert.equal(channel.answer(), true);
  assert.equal(channel.answerState, 'answered');
  assert.ok(channel.answeredAtUs > 0n);
  assert.equal(channel.answer(), true, 'already answered');
  assert.equal(channel.preAnswer(), true, 'pre-answer of an answered channel is a no-op');
  assert.deepEqual(endpoint.calls, ['preAnswer', 'answer']);
  assert.deepEqual(names(events), ['CHANNEL_CREATE', 'CHANNEL_PROGRESS_MEDIA', 'CHANNEL_ANSWER']);
  assert.equal(events[1]!.get('Answer-State'), 'early');
  assert.equal(events[1]!.get('Channel-Call-State'), 'EARLY');
  assert.equal(events[2]!.get('Answer-State'), 'answered');
  assert.equal(events[2]!.get('Channel-Call-State'), 'ACTIVE');
  assert.equal(events[2]!.get('Caller-Channel-Answered-Time'), channel.answeredAtUs.toString());
  channel.hangup();
});

test('answer without pre-answer asks only answer', () => {
  const { channel, endpoint, events } = setup();
  assert.equal(channel.answer(), true);
  assert.deepEqual(endpoint.calls, ['answer']);
  assert.deepEqual(names(events), ['CHANNEL_CREATE', 'CHANNEL_ANSWER']);
  channel.hangup();
});

test('an endpoint that refuses: preAnswer and answer return false, the state is unchanged, no event', () => {
  const { channel, endpoint, events } = setup({ accept: false });
  assert.equal(channel.preAnswer(), false);
  assert.equal(channel.answerState, 'ringing');
  assert.equal(channel.answer(), false);
  assert.equal(channel.answerState, 'ringing');
  assert.equal(channel.answeredAtUs, 0n);
  assert.deepEqual(endpoint.calls, ['preAnswer', 'answer']);
  assert.deepEqual(names(events), ['CHANNEL_CREATE']);
  // It may be asked again later (a refusal is not remembered).
  assert.equal(channel.answer(), false);
  assert.deepEqual(endpoint.calls, ['preAnswer', 'answer', 'answer']);
  channel.hangup();
});

test('hangup: CHANNEL_HANGUP, endpoint, bugs closed, CHANNEL_HANGUP_COMPLETE, CHANNEL_DESTROY, with the cause', async () => {
  const { channel, endpoint, events, registry, log } = setup();
  const bug = new RecordingBug('tap', log);
  assert.equal(channel.addBug(bug), true);
  channel.answer();
  log.length = 0;
  events.length = 0;
  channel.hangup('USER_BUSY');
  assert.deepEqual(log, [
    'event:CHANNEL_HANGUP', 'endpoint:hangup:USER_BUSY', 'bug:tap:close', 'event:CHANNEL_HANGUP_COMPLETE', 'event:CHANNEL_DESTROY',
  ]);
  assert.deepEqual(events.map((e) => [e.name, e.get('Channel-State'), e.get('Channel-State-Number')]), [
    ['CHANNEL_HANGUP', 'CS_HANGUP', '10'],
    ['CHANNEL_HANGUP_COMPLETE', 'CS_REPORTING', '11'],
    ['CHANNEL_DESTROY', 'CS_DESTROY', '12'],
  ]);
  for (const e of events) {
    assert.equal(e.get('Hangup-Cause'), 'USER_BUSY', e.name);
    assert.equal(e.get('variable_hangup_cause'), 'USER_BUSY', e.name);
    assert.equal(e.get('variable_hangup_cause_q850'), '17', e.name);
    assert.equal(e.get('Answer-State'), 'hangup', e.name);
    assert.equal(e.get('Channel-Call-State'), 'HANGUP', e.name);
    assert.equal(e.get('Unique-ID'), channel.uuid, e.name);
  }
  assert.equal(events[0]!.get('Caller-Channel-Hangup-Time'), channel.hangupAtUs.toString());
  assert.ok(channel.hangupAtUs > 0n);
  assert.equal(channel.hangupCause, 'USER_BUSY');
  assert.equal(channel.getVariable('hangup_cause_q850'), '17');
  assert.equal(channel.isHungUp, true);
  assert.equal(channel.state, 'CS_DESTROY');
  assert.equal(endpoint.channels.at(-1), channel);
  assert.equal(registry.get(channel.uuid), undefined, 'the registry forgot it');
  assert.equal(registry.size, 0);
  assert.equal(await channel.ended, 'USER_BUSY');
});

test('hangup is idempotent: no second set of events, the first cause stays, the endpoint is told once', async () => {
  const { channel, endpoint, events } = setup();
  channel.hangup();
  const count = events.length;
  channel.hangup('CALL_REJECTED');
  channel.hangup('USER_BUSY');
  assert.equal(events.length, count);
  assert.deepEqual(names(events), ['CHANNEL_CREATE', 'CHANNEL_HANGUP', 'CHANNEL_HANGUP_COMPLETE', 'CHANNEL_DESTROY']);
  assert.equal(events[1]!.get('Hangup-Cause'), 'NORMAL_CLEARING', 'the default cause');
  assert.equal(events[1]!.get('variable_hangup_cause_q850'), '16');
  assert.equal(channel.hangupCause, 'NORMAL_CLEARING');
  assert.deepEqual(endpoint.calls, ['hangup:NORMAL_CLEARING']);
  assert.equal(await channel.ended, 'NORMAL_CLEARING');
});

test('after hangup nothing changes state: answer, preAnswer, park and setState are refused', () => {
  const { channel, endpoint, events } = setup();
  channel.hangup('NO_ANSWER');
  const count = events.length;
  assert.equal(channel.answer(), false);
  assert.equal(channel.preAnswer(), false);
  channel.park();
  channel.setState('CS_EXECUTE');
  assert.equal(channel.state, 'CS_DESTROY');
  assert.equal(channel.answerState, 'hangup');
  assert.equal(events.length, count);
  assert.deepEqual(endpoint.calls, ['hangup:NO_ANSWER'], 'a hung-up channel does not ask the endpoint');
});

test('the registry forgets only the destroyed channel', () => {
  const { registry, channel } = setup();
  const other = registry.create(new RecordingEndpoint(), 'other', PCMU, {});
  assert.equal(registry.size, 2);
  channel.hangup();
  assert.equal(registry.size, 1);
  assert.equal(registry.get(channel.uuid), undefined);
  assert.equal(registry.get(other.uuid), other);
  assert.deepEqual([...registry], [other]);
  other.hangup();
  assert.equal(registry.size, 0);
});

test('park: CS_PARK with CHANNEL_STATE then CHANNEL_PARK; setState fires CHANNEL_STATE only on a change', () => {
  const { channel, events } = setup();
  channel.setState('CS_ROUTING');
  channel.setState('CS_ROUTING');
  channel.park();
  assert.deepEqual(events.map((e) => [e.name, e.get('Channel-State')]), [
    ['CHANNEL_CREATE', 'CS_NEW'], ['CHANNEL_STATE', 'CS_ROUTING'], ['CHANNEL_STATE', 'CS_PARK'], ['CHANNEL_PARK', 'CS_PARK'],
  ]);
  assert.equal(events[2]!.get('Channel-State-Number'), '6');
  channel.hangup();
});

test('addBug: one bug per name, any number of names, none after hangup; findBug and removeBug', () => {
  const { channel } = setup();
  const a = new RecordingBug('audio_stream');
  const twin = new RecordingBug('audio_stream');
  const b = new RecordingBug('other');
  assert.equal(channel.addBug(a), true);
  assert.equal(channel.addBug(twin), false, 'same name refused');
  assert.equal(channel.addBug(b), true);
  assert.equal(channel.findBug('audio_stream'), a);
  assert.equal(channel.findBug('other'), b);
  assert.equal(channel.findBug('none'), undefined);
  channel.removeBug(b);
  assert.equal(b.closes, 0, 'removeBug does not close the bug');
  assert.equal(channel.findBug('other'), undefined);
  channel.removeBug(b); // not attached: nothing happens
  assert.equal(channel.addBug(b), true, 'the name is free again');
  channel.processFrame(null, null, 1);
  assert.equal(twin.frames.length, 0, 'the refused bug gets no frame');
  channel.hangup();
  const late = new RecordingBug('late');
  assert.equal(channel.addBug(late), false, 'no bug after hangup');
  assert.equal(channel.findBug('late'), undefined);
  assert.equal(late.closes, 0);
});

test('processFrame hands the same read and write frames and due time to every bug, in attach order', () => {
  const { channel } = setup();
  const log: string[] = [];
  const a = new RecordingBug('a', log);
  const b = new RecordingBug('b', log);
  channel.addBug(a);
  channel.addBug(b);
  const read = new Int16Array([1, 2, 3]);
  const write = new Int16Array([4, 5, 6]);
  channel.processFrame(read, write, 20);
  channel.processFrame(null, write, 40);
  channel.processFrame(read, null, 60);
  assert.deepEqual(log, ['bug:a:frame:20', 'bug:b:frame:20', 'bug:a:frame:40', 'bug:b:frame:40', 'bug:a:frame:60', 'bug:b:frame:60']);
  for (const bug of [a, b]) {
    assert.equal(bug.frames.length, 3);
    assert.equal(bug.frames[0]!.read, read, 'the very buffer, not a copy');
    assert.equal(bug.frames[0]!.write, write);
    assert.equal(bug.frames[1]!.read, null);
    assert.equal(bug.frames[2]!.write, null);
  }
  channel.hangup();
});

test('a bug that removes itself during processFrame does not make the next bug miss its frame', () => {
  const { channel } = setup();
  const log: string[] = [];
  const first = new RecordingBug('first', log);
  const quitter = new RecordingBug('quitter', log);
  const next = new RecordingBug('next', log);
  const last = new RecordingBug('last', log);
  quitter.onFrameHook = () => channel.removeBug(quitter);
  channel.addBug(first);
  channel.addBug(quitter);
  channel.addBug(next);
  channel.addBug(last);
  channel.processFrame(null, null, 20);
  assert.deepEqual(log, ['bug:first:frame:20', 'bug:quitter:frame:20', 'bug:next:frame:20', 'bug:last:frame:20']);
  channel.processFrame(null, null, 40);
  assert.deepEqual(log.slice(4), ['bug:first:frame:40', 'bug:next:frame:40', 'bug:last:frame:40']);
  // The last bug leaving during its own frame ends the walk cleanly.
  last.onFrameHook = () => channel.removeBug(last);
  channel.processFrame(null, null, 60);
  channel.processFrame(null, null, 80);
  assert.deepEqual(log.slice(7), ['bug:first:frame:60', 'bug:next:frame:60', 'bug:last:frame:60', 'bug:first:frame:80', 'bug:next:frame:80']);
  assert.equal(quitter.frames.length, 1);
  channel.hangup();
  assert.equal(quitter.closes, 0, 'a detached bug is not closed by the hangup');
  assert.equal(last.closes, 0);
  assert.equal(first.closes, 1);
  assert.equal(next.closes, 1);
});

test('two bugs removing themselves in the same frame: every other bug still gets it', () => {
  const { channel } = setup();
  const log: string[] = [];
  const bugs = ['a', 'b', 'c', 'd'].map((n) => new RecordingBug(n, log));
  for (const bug of bugs) channel.addBug(bug);
  bugs[0]!.onFrameHook = () => channel.removeBug(bugs[0]!);
  bugs[1]!.onFrameHook = () => channel.removeBug(bugs[1]!);
  channel.processFrame(null, null, 1);
  assert.deepEqual(log, ['bug:a:frame:1', 'bug:b:frame:1', 'bug:c:frame:1', 'bug:d:frame:1']);
  channel.hangup();
});

test('hangup calls onChannelClose once on each bug, detaches them, and later frames reach nobody', () => {
  const { channel } = setup();
  const a = new RecordingBug('a');
  const b = new RecordingBug('b');
  channel.addBug(a);
  channel.addBug(b);
  channel.hangup('MEDIA_TIMEOUT');
  assert.equal(a.closes, 1);
  assert.equal(b.closes, 1);
  assert.equal(channel.findBug('a'), undefined);
  assert.equal(channel.findBug('b'), undefined);
  channel.processFrame(new Int16Array(160), null, 100);
  assert.equal(a.frames.length, 0);
  assert.equal(b.frames.length, 0);
  channel.hangup();
  assert.equal(a.closes, 1, 'not closed twice');
});

test('setCodec: onFormatChange on every bug only when rate or ptime change; read_codec/read_rate follow', () => {
  const { channel, events } = setup();
  const a = new RecordingBug('a');
  const b = new RecordingBug('b');
  channel.addBug(a);
  channel.addBug(b);
  channel.setCodec({ name: 'PCMA', rateHz: 8000, ptimeMs: 20 });
  assert.equal(a.formats.length, 0, 'same rate and ptime: no format change');
  assert.equal(channel.codec.name, 'PCMA');
  assert.equal(channel.getVariable('read_codec'), 'PCMA');
  assert.equal(channel.getVariable('write_codec'), 'PCMA');
  assert.equal(channel.getVariable('read_rate'), '8000');
  const g722: ChannelCodec = { name: 'G722', rateHz: 16000, ptimeMs: 20 };
  channel.setCodec(g722);
  assert.deepEqual(a.formats, [g722]);
  assert.deepEqual(b.formats, [g722]);
  assert.equal(channel.rateHz, 16000);
  assert.equal(channel.getVariable('read_codec'), 'G722');
  assert.equal(channel.getVariable('read_rate'), '16000');
  assert.equal(channel.getVariable('write_rate'), '16000');
  const ptime30: ChannelCodec = { name: 'G722', rateHz: 16000, ptimeMs: 30 };
  channel.setCodec(ptime30);
  assert.deepEqual(a.formats, [g722, ptime30], 'a ptime change alone is a format change');
  channel.setCodec({ ...ptime30 });
  assert.equal(a.formats.length, 2, 'the same format again: nothing');
  assert.equal(b.formats.length, 2);
  // The event headers carry the codec in force.
  channel.fire('CUSTOM', 'test::codec');
  const e = events.at(-1)!;
  assert.equal(e.get('Channel-Read-Codec-Name'), 'G722');
  assert.equal(e.get('Channel-Read-Codec-Rate'), '16000');
  assert.equal(e.get('variable_read_rate'), '16000');
  channel.hangup();
});

test('setCodec: a bug that detaches itself in onFormatChange does not make another miss the change', () => {
  const { channel } = setup();
  const quitter = new RecordingBug('quitter');
  const other = new RecordingBug('other');
  quitter.onFormatChange = (f) => {
    quitter.formats.push(f);
    channel.removeBug(quitter);
  };
  channel.addBug(quitter);
  channel.addBug(other);
  channel.setCodec({ name: 'L16', rateHz: 16000, ptimeMs: 20 });
  assert.equal(quitter.formats.length, 1);
  assert.equal(other.formats.length, 1);
  channel.hangup();
});

test('addEventData: channel state, caller profile and variable_* headers', () => {
  const { channel } = setup();
  channel.setVariable('sip_h_X-Tenant', 'acme');
  const event = new FsEvent('TEST');
  channel.addEventData(event);
  const get = (n: string): string | undefined => event.get(n);
  assert.equal(get('Channel-State'), 'CS_NEW');
  assert.equal(get('Channel-State-Number'), '0');
  assert.equal(get('Channel-Call-State'), 'RINGING');
  assert.equal(get('Channel-Name'), 'sofia/internal/1000@192.0.2.1');
  assert.equal(get('Unique-ID'), channel.uuid);
  assert.equal(get('Call-Direction'), 'inbound');
  assert.equal(get('Answer-State'), 'ringing');
  assert.equal(get('Channel-Read-Codec-Name'), 'PCMU');
  assert.equal(get('Channel-Read-Codec-Rate'), '8000');
  assert.equal(get('Channel-Write-Codec-Name'), 'PCMU');
  assert.equal(get('Caller-Caller-ID-Number'), '1000');
  assert.equal(get('Caller-Caller-ID-Name'), 'Alice');
  assert.equal(get('Caller-Orig-Caller-ID-Number'), '1000');
  assert.equal(get('Caller-ANI'), '1000');
  assert.equal(get('Caller-Destination-Number'), '5551234');
  assert.equal(get('Caller-Network-Addr'), '192.0.2.1');
  assert.equal(get('Caller-Unique-ID'), channel.uuid);
  assert.equal(get('Caller-Source'), 'audio-stream');
  assert.equal(get('Caller-Context'), 'default');
  assert.equal(get('Caller-Dialplan'), 'XML');
  assert.equal(get('Caller-Channel-Name'), 'sofia/internal/1000@192.0.2.1');
  assert.equal(get('Caller-Profile-Index'), '1');
  assert.equal(get('Caller-Channel-Created-Time'), channel.createdAtUs.toString());
  assert.equal(get('Caller-Channel-Answered-Time'), '0');
  assert.equal(get('Caller-Channel-Hangup-Time'), '0');
  assert.equal(get('Hangup-Cause'), undefined);
  // Every variable, in the order set, after the fixed headers.
  const variables = event.headers.filter(([n]) => n.startsWith('variable_'));
  assert.deepEqual(variables, [...channel.variables].map(([k, v]) => [`variable_${k}`, v]));
  assert.equal(get('variable_sip_h_X-Tenant'), 'acme');
  const firstVariable = event.headers.findIndex(([n]) => n.startsWith('variable_'));
  assert.ok(event.headers.slice(firstVariable).every(([n]) => n.startsWith('variable_')), 'variables come last');
  assert.deepEqual(event.headers.slice(0, 6).map(([n]) => n),
    ['Event-Name', 'Channel-State', 'Channel-Call-State', 'Channel-State-Number', 'Channel-Name', 'Unique-ID']);
  channel.hangup();
});

test('fire: extra headers come before the channel data; the body is kept', () => {
  const { channel, events } = setup();
  channel.fire('DTMF', undefined, undefined, { 'DTMF-Digit': '5', 'DTMF-Duration': '2000' });
  channel.fire('CUSTOM', 'mod_audio_stream::json', '{"a":1}');
  const dtmf = events.at(-2)!;
  assert.equal(dtmf.name, 'DTMF');
  assert.equal(dtmf.get('DTMF-Digit'), '5');
  const names = dtmf.headers.map(([n]) => n);
  assert.ok(names.indexOf('DTMF-Duration') < names.indexOf('Channel-State'), 'extra headers first');
  assert.equal(dtmf.body, undefined);
  const custom = events.at(-1)!;
  assert.equal(custom.subclass, 'mod_audio_stream::json');
  assert.equal(custom.get('Event-Subclass'), 'mod_audio_stream::json');
  assert.equal(custom.body, '{"a":1}');
  assert.equal(custom.get('Unique-ID'), channel.uuid);
  channel.hangup();
});

test('a bug or an endpoint that throws at hangup is counted and logged; the hangup still completes', async () => {
  const { channel, events, registry } = setup();
  const lines: string[] = [];
  const removeSink = addLogSink((level, scope, message) => { if (scope === 'channel') lines.push(`${level} ${message.split('\n')[0]}`); });
  try {
    const broken = new RecordingBug('broken');
    broken.onChannelClose = () => { throw new Error('close failed'); };
    const after = new RecordingBug('after');
    channel.addBug(broken);
    channel.addBug(after);
    channel.hangup('USER_BUSY');
    assert.equal(after.closes, 1, 'the next bug was still closed');
    assert.deepEqual(names(events).slice(-3), ['CHANNEL_HANGUP', 'CHANNEL_HANGUP_COMPLETE', 'CHANNEL_DESTROY']);
    assert.equal(registry.get(channel.uuid), undefined);
    assert.equal(await channel.ended, 'USER_BUSY');
    assert.equal(registry.failures.count, 1);
    assert.deepEqual(lines, ['error a hangup step failed: Error: close failed (counted; logged once per cause)']);
    const other = registry.create({ preAnswer: () => true, answer: () => true, hangup: () => { throw new Error('no BYE'); } }, 'x', PCMU, {});
    other.hangup();
    assert.equal(other.state, 'CS_DESTROY');
    assert.equal(registry.failures.count, 2);
  } finally {
    removeSink();
  }
});

test('dtmf(): the DTMF event (duration in 8 kHz samples) and every media bug', () => {
  const { channel, events, log } = setup();
  channel.addBug(new RecordingBug('a', log));
  channel.dtmf('7', 120, 'ENDPOINT');
  const e = events.at(-1)!;
  assert.deepEqual([e.name, e.get('DTMF-Digit'), e.get('DTMF-Duration'), e.get('DTMF-Source')], ['DTMF', '7', '960', 'ENDPOINT']);
  assert.equal(log.at(-1), 'bug:a:dtmf:7');
  channel.hangup();
  channel.dtmf('8', 100, 'ENDPOINT');
  assert.notEqual(events.at(-1)!.name, 'DTMF', 'nothing once hung up');
});
