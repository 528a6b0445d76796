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
import { FS_OTHER_EVENTS, FS_PARK_CALL, headerNames, type FsEventEntry } from './fs-event-headers.test-data.ts';

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
    callerIdName: 'Alice', callerIdNumber: '1000', destinationNumber: '5551234', networkAddr: '192.0.2.1', username: '1000',
  }, opts.uuid);
  return { bus, registry, events, endpoint, channel, log };
}

function names(events: FsEvent[]): string[] {
  return events.map((e) => e.name);
}

test('create: registered, CHANNEL_STATE CS_NEW and CS_INIT, then CHANNEL_CREATE with the channel headers and variables', () => {
  const { registry, events, channel, endpoint } = setup({ uuid: '11111111-2222-3333-4444-555555555555' });
  assert.equal(channel.uuid, '11111111-2222-3333-4444-555555555555');
  assert.equal(registry.get(channel.uuid), channel);
  assert.equal(registry.size, 1);
  assert.deepEqual([...registry], [channel]);
  assert.deepEqual(names(events), ['CHANNEL_STATE', 'CHANNEL_STATE', 'CHANNEL_CREATE']);
  const e = events[2]!;
  assert.equal(e.get('Unique-ID'), channel.uuid);
  assert.equal(e.get('Channel-Name'), 'sofia/internal/1000@192.0.2.1');
  assert.equal(e.get('Channel-State'), 'CS_INIT', 'running in CS_INIT');
  assert.equal(e.get('Channel-State-Number'), '2', 'headed for CS_ROUTING');
  assert.equal(e.get('Channel-Call-State'), 'DOWN');
  assert.equal(e.get('Answer-State'), 'ringing');
  assert.equal(e.get('Caller-Caller-ID-Number'), '1000');
  assert.equal(e.get('Caller-Destination-Number'), '5551234');
  assert.equal(e.get('variable_uuid'), channel.uuid);
  assert.equal(e.get('Hangup-Cause'), undefined, 'no cause before hangup');
  // The bus stamps its standard headers first, in FreeSWITCH's order.
  assert.deepEqual(e.headers.slice(0, 2).map(([n]) => n), ['Event-Name', 'Core-UUID']);
  assert.equal(endpoint.calls.length, 0, 'creating asks nothing of the endpoint');
  assert.equal(channel.state, 'CS_INIT');
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

test('standard variables: those of switch_core_session_request, channel name, codec; the caller profile through getVariable', () => {
  const { channel, registry } = setup();
  assert.deepEqual([...channel.variables], [
    ['direction', 'inbound'],
    ['uuid', channel.uuid],
    ['call_uuid', channel.uuid],
    ['session_id', '1'],
    ['channel_name', 'sofia/internal/1000@192.0.2.1'],
    ['read_codec', 'PCMU'],
    ['original_read_codec', 'PCMU'],
    ['read_rate', '8000'],
    ['original_read_rate', '8000'],
    ['write_codec', 'PCMU'],
    ['write_rate', '8000'],
  ]);
  assert.equal(channel.getVariable('read_rate'), '8000');
  assert.equal(channel.getVariable('nope'), undefined);
  // Not variables, as in FreeSWITCH: the caller profile's fields answer for their names.
  assert.equal(channel.getVariable('caller_id_number'), '1000');
  assert.equal(channel.getVariable('caller_id_name'), 'Alice');
  assert.equal(channel.getVariable('destination_number'), '5551234');
  assert.equal(channel.getVariable('context'), 'default');
  assert.equal(channel.getVariable('ani'), '1000');
  channel.setVariable('foo', 'bar');
  assert.equal(channel.getVariable('foo'), 'bar');
  channel.setVariable('session_id', '1');
  assert.equal([...channel.variables.keys()].at(-1), 'session_id', 'setting a variable again moves it to the end');
  channel.setVariable('foo', undefined);
  assert.equal(channel.getVariable('foo'), undefined);
  assert.equal(channel.variables.has('foo'), false, 'undefined unsets');
  assert.deepEqual(channel.caller, {
    callerIdName: 'Alice', callerIdNumber: '1000', destinationNumber: '5551234', networkAddr: '192.0.2.1',
    source: 'audio-stream', context: 'default', dialplan: 'XML', username: '1000',
    screenBit: true, privacyHideName: false, privacyHideNumber: false,
  });
  const bare = registry.create(new RecordingEndpoint(), 'bare', PCMU, {});
  assert.equal(bare.getVariable('session_id'), '2', 'sessions are counted');
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
  const after = events.slice(3);
  assert.deepEqual(names(after), ['CHANNEL_PROGRESS_MEDIA', 'CHANNEL_CALLSTATE', 'CHANNEL_ANSWER', 'CHANNEL_CALLSTATE']);
  assert.equal(after[0]!.get('Answer-State'), 'early');
  assert.equal(after[0]!.get('Channel-Call-State'), 'DOWN', 'the call state follows the event');
  assert.equal(after[0]!.get('variable_endpoint_disposition'), 'EARLY MEDIA');
  assert.equal(after[0]!.get('Caller-Channel-Progress-Media-Time'), channel.progressMediaAtUs.toString());
  assert.deepEqual([after[1]!.get('Original-Channel-Call-State'), after[1]!.get('Channel-Call-State'), after[1]!.get('Channel-Call-State-Number')],
    ['DOWN', 'EARLY', '3']);
  assert.equal(after[2]!.get('Answer-State'), 'answered');
  assert.equal(after[2]!.get('Caller-Channel-Answered-Time'), channel.answeredAtUs.toString());
  assert.equal(after[3]!.get('Channel-Call-State'), 'ACTIVE');
  assert.equal(channel.getVariable('endpoint_disposition'), 'ANSWER');
  channel.hangup();
});

test('answer without pre-answer asks only answer', () => {
  const { channel, endpoint, events } = setup();
  assert.equal(channel.answer(), true);
  assert.deepEqual(endpoint.calls, ['answer']);
  assert.deepEqual(names(events).slice(3), ['CHANNEL_ANSWER', 'CHANNEL_CALLSTATE']);
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
  assert.equal(events.length, 3, 'nothing after CHANNEL_CREATE');
  // It may be asked again later (a refusal is not remembered).
  assert.equal(channel.answer(), false);
  assert.deepEqual(endpoint.calls, ['preAnswer', 'answer', 'answer']);
  channel.hangup();
});

test('hangup, in FreeSWITCH\'s order: CHANNEL_HANGUP, CS_HANGUP, bugs closed (MEDIA_BUG_STOP), the call state, the endpoint, CS_REPORTING, CHANNEL_HANGUP_COMPLETE, CHANNEL_DESTROY, CS_DESTROY', async () => {
  const { channel, endpoint, events, registry, log } = setup();
  const bug = new RecordingBug('tap', log);
  channel.setState('CS_ROUTING');
  channel.setState('CS_EXECUTE');
  assert.equal(channel.addBug(bug), true);
  channel.answer();
  log.length = 0;
  events.length = 0;
  channel.hangup('USER_BUSY');
  assert.deepEqual(log, [
    'event:CHANNEL_HANGUP', 'event:CHANNEL_STATE', 'bug:tap:close', 'event:MEDIA_BUG_STOP', 'event:CHANNEL_CALLSTATE',
    'endpoint:hangup:USER_BUSY', 'event:CHANNEL_STATE', 'event:CHANNEL_HANGUP_COMPLETE', 'event:CHANNEL_DESTROY', 'event:CHANNEL_STATE',
  ]);
  // Channel-State is the state the channel runs in, Channel-State-Number the one it is headed for.
  assert.deepEqual(events.map((e) => [e.name, e.get('Channel-State'), e.get('Channel-State-Number'), e.get('Channel-Call-State')]), [
    ['CHANNEL_HANGUP', 'CS_EXECUTE', '10', 'ACTIVE'],
    ['CHANNEL_STATE', 'CS_HANGUP', '10', 'ACTIVE'],
    ['MEDIA_BUG_STOP', 'CS_HANGUP', '10', 'ACTIVE'],
    ['CHANNEL_CALLSTATE', 'CS_HANGUP', '10', 'HANGUP'],
    ['CHANNEL_STATE', 'CS_REPORTING', '11', 'HANGUP'],
    ['CHANNEL_HANGUP_COMPLETE', 'CS_REPORTING', '11', 'HANGUP'],
    ['CHANNEL_DESTROY', 'CS_REPORTING', '12', 'HANGUP'],
    ['CHANNEL_STATE', 'CS_DESTROY', '12', 'HANGUP'],
  ]);
  for (const e of events) {
    assert.equal(e.get('Hangup-Cause'), 'USER_BUSY', e.name);
    assert.equal(e.get('Answer-State'), 'hangup', e.name);
    assert.equal(e.get('Unique-ID'), channel.uuid, e.name);
  }
  const [hangupEvent, , bugStop, , , complete, destroy] = events;
  assert.equal(hangupEvent!.get('variable_hangup_cause'), undefined, 'set after the bugs are closed');
  assert.equal(hangupEvent!.get('Caller-Channel-Hangup-Time'), '0', 'set in CS_HANGUP');
  assert.equal(bugStop!.get('Media-Bug-Function'), 'tap');
  for (const e of [complete!, destroy!]) {
    assert.equal(e.get('variable_hangup_cause'), 'USER_BUSY', e.name);
    assert.equal(e.get('variable_hangup_cause_q850'), '17', e.name);
    assert.equal(e.get('Caller-Channel-Hangup-Time'), channel.hangupAtUs.toString(), e.name);
  }
  assert.deepEqual(complete!.headers.filter(([n]) => n === 'Hangup-Cause').length, 2, 'HANGUP_COMPLETE names the cause first, and again');
  assert.equal(complete!.headers[13]![0], 'Hangup-Cause');
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
  const hangup = events.filter((e) => !e.name.startsWith('CHANNEL_STATE') && e.name !== 'CHANNEL_CALLSTATE');
  assert.deepEqual(names(hangup), ['CHANNEL_CREATE', 'CHANNEL_HANGUP', 'CHANNEL_HANGUP_COMPLETE', 'CHANNEL_DESTROY']);
  assert.equal(hangup[1]!.get('Hangup-Cause'), 'NORMAL_CLEARING', 'the default cause');
  assert.equal(hangup[2]!.get('variable_hangup_cause_q850'), '16');
  assert.equal(channel.hangupCause, 'NORMAL_CLEARING');
  assert.deepEqual(endpoint.calls, ['hangup:NORMAL_CLEARING']);
  assert.equal(await channel.ended, 'NORMAL_CLEARING');
});

test('the CDR variables of switch_channel_set_timestamps, in its order, at hangup', () => {
  const { channel, events } = setup();
  channel.setState('CS_ROUTING');
  channel.setState('CS_EXECUTE');
  channel.executing('answer', '');
  channel.answer();
  channel.executing('park', '');
  channel.park();
  channel.hangup();
  const complete = events.find((e) => e.name === 'CHANNEL_HANGUP_COMPLETE')!;
  const fs = headerNames(FS_PARK_CALL.find(([n]) => n === 'CHANNEL_HANGUP_COMPLETE')!);
  const block = (list: string[]): string[] => list.slice(list.indexOf('variable_hangup_cause'), list.indexOf('variable_flow_billusec') + 1);
  assert.deepEqual(block(complete.headers.filter(([, v]) => v !== '').map(([n]) => n)), block(fs));
  const v = (n: string): string | undefined => complete.get(`variable_${n}`);
  assert.equal(v('digits_dialed'), 'none');
  assert.equal(v('last_app'), 'park');
  assert.equal(v('last_arg'), undefined, 'park had no data');
  assert.equal(v('caller_id'), '"Alice" <1000>');
  assert.equal(v('start_uepoch'), channel.createdAtUs.toString());
  assert.equal(v('answer_uepoch'), channel.answeredAtUs.toString());
  assert.equal(v('end_uepoch'), channel.hangupAtUs.toString());
  assert.equal(v('uduration'), (channel.hangupAtUs - channel.createdAtUs).toString());
  assert.equal(v('billusec'), (channel.hangupAtUs - channel.answeredAtUs).toString());
  assert.equal(v('progress_mediausec'), '0');
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

test('park: CHANNEL_PARK in CS_EXECUTE (the park application runs there), CHANNEL_UNPARK at the hangup; setState fires CHANNEL_STATE only on a change', () => {
  const { channel, events } = setup();
  events.length = 0;
  channel.setState('CS_ROUTING');
  channel.setState('CS_ROUTING');
  channel.setState('CS_EXECUTE');
  channel.park();
  channel.park();
  assert.equal(channel.isParked, true);
  assert.deepEqual(events.map((e) => [e.name, e.get('Channel-State'), e.get('Channel-State-Number'), e.get('Channel-Call-State')]), [
    ['CHANNEL_CALLSTATE', 'CS_ROUTING', '2', 'RINGING'], ['CHANNEL_STATE', 'CS_ROUTING', '2', 'RINGING'],
    ['CHANNEL_STATE', 'CS_EXECUTE', '4', 'RINGING'], ['CHANNEL_PARK', 'CS_EXECUTE', '4', 'RINGING'],
  ]);
  assert.equal(channel.state, 'CS_EXECUTE');
  events.length = 0;
  channel.hangup();
  assert.deepEqual(names(events).slice(0, 3), ['CHANNEL_HANGUP', 'CHANNEL_UNPARK', 'CHANNEL_STATE']);
  assert.equal(channel.isParked, false);
});

test('CS_ROUTING sets call_uuid again (switch_core_standard_on_routing): it moves after the variables set before', () => {
  const { channel } = setup();
  channel.setVariable('sip_h_X-A', '1');
  channel.setState('CS_ROUTING');
  assert.equal([...channel.variables.keys()].at(-1), 'call_uuid');
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
  const event = new FsEvent('CHANNEL_DATA');
  channel.addEventData(event);
  const get = (n: string): string | undefined => event.get(n);
  assert.equal(get('Channel-State'), 'CS_INIT');
  assert.equal(get('Channel-State-Number'), '2');
  assert.equal(get('Channel-Call-State'), 'DOWN');
  assert.equal(get('Channel-Name'), 'sofia/internal/1000@192.0.2.1');
  assert.equal(get('Unique-ID'), channel.uuid);
  assert.equal(get('Call-Direction'), 'inbound');
  assert.equal(get('Channel-Call-UUID'), channel.uuid);
  assert.equal(get('Answer-State'), 'ringing');
  assert.equal(get('Channel-Read-Codec-Name'), 'PCMU');
  assert.equal(get('Channel-Read-Codec-Rate'), '8000');
  assert.equal(get('Channel-Read-Codec-Bit-Rate'), '64000');
  assert.equal(get('Channel-Write-Codec-Name'), 'PCMU');
  assert.equal(get('Channel-Write-Codec-Bit-Rate'), '64000');
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
  for (const n of ['Answered', 'Progress', 'Progress-Media', 'Hangup', 'Transfer', 'Resurrect', 'Bridged']) {
    assert.equal(get(`Caller-Channel-${n}-Time`), '0', n);
  }
  assert.equal(get('Caller-Channel-Last-Hold'), '0');
  assert.equal(get('Caller-Channel-Hold-Accum'), '0');
  assert.deepEqual([get('Caller-Screen-Bit'), get('Caller-Privacy-Hide-Name'), get('Caller-Privacy-Hide-Number')], ['true', 'false', 'false']);
  assert.equal(get('Hangup-Cause'), undefined);
  // Every variable, in the order set, after the fixed headers.
  const variables = event.headers.filter(([n]) => n.startsWith('variable_'));
  assert.deepEqual(variables, [...channel.variables].map(([k, v]) => [`variable_${k}`, v]));
  assert.equal(get('variable_sip_h_X-Tenant'), 'acme');
  const firstVariable = event.headers.findIndex(([n]) => n.startsWith('variable_'));
  assert.ok(event.headers.slice(firstVariable).every(([n]) => n.startsWith('variable_')), 'variables come last');
  assert.deepEqual(event.headers.slice(0, 6).map(([n]) => n),
    ['Event-Name', 'Channel-State', 'Channel-Call-State', 'Channel-State-Number', 'Channel-Name', 'Unique-ID']);
  // presence_id and presence_data show as Channel-Presence-*; call_uuid as Channel-Call-UUID.
  channel.setVariable('presence_id', '1000@example.com');
  channel.setVariable('call_uuid', 'other');
  const again = new FsEvent('CHANNEL_DATA');
  channel.addEventData(again);
  const order = again.headers.map(([n]) => n);
  assert.deepEqual(order.slice(8, 12), ['Channel-HIT-Dialplan', 'Channel-Presence-ID', 'Channel-Call-UUID', 'Answer-State']);
  assert.equal(again.get('Channel-Call-UUID'), 'other');
  // Only the events FreeSWITCH lists carry the variables.
  for (const [name, withVariables] of [['CHANNEL_STATE', false], ['CHANNEL_CALLSTATE', false], ['DTMF', false], ['CHANNEL_HOLD', true],
    ['CUSTOM', true], ['MEDIA_BUG_START', true], ['PLAYBACK_START', true], ['CHANNEL_PARK', true]] as const) {
    const e = new FsEvent(name);
    channel.addEventData(e);
    assert.equal(e.headers.some(([n]) => n.startsWith('variable_')), withVariables, name);
  }
  channel.hangup();
});

test('codecBitRate: 64000 for G.711 and G.722, 16 bits a sample for L16', () => {
  const { channel, events } = setup();
  channel.setCodec({ name: 'L16', rateHz: 16000, ptimeMs: 20 });
  channel.fire('CUSTOM', 'test::codec');
  assert.equal(events.at(-1)!.get('Channel-Read-Codec-Bit-Rate'), '256000');
  channel.setCodec({ name: 'G722', rateHz: 16000, ptimeMs: 20 });
  channel.fire('CUSTOM', 'test::codec');
  assert.equal(events.at(-1)!.get('Channel-Write-Codec-Bit-Rate'), '64000');
  assert.equal(channel.getVariable('original_read_codec'), 'PCMU', 'the first codec stays the original');
  channel.hangup();
});

test('fire: extra headers come after the channel data (as PLAYBACK_START, CHANNEL_EXECUTE...); CUSTOM events start with Event-Subclass', () => {
  const { channel, events } = setup();
  channel.fire('PLAYBACK_START', undefined, undefined, { 'Playback-File-Path': '/tmp/a.wav' });
  channel.fire('CUSTOM', 'mod_audio_stream::json', '{"a":1}');
  const playback = events.at(-2)!;
  assert.deepEqual(playback.headers.at(-1), ['Playback-File-Path', '/tmp/a.wav']);
  assert.equal(playback.body, undefined);
  const custom = events.at(-1)!;
  assert.equal(custom.subclass, 'mod_audio_stream::json');
  assert.deepEqual(custom.headers.slice(0, 2), [['Event-Subclass', 'mod_audio_stream::json'], ['Event-Name', 'CUSTOM']]);
  assert.equal(custom.body, '{"a":1}');
  assert.equal(custom.get('Unique-ID'), channel.uuid);
  assert.deepEqual(['Event-Calling-File', 'Event-Calling-Function'].map((n) => custom.get(n)), ['channel.ts', 'Channel.fire']);
  assert.ok(Number(custom.get('Event-Calling-Line-Number')) > 0, 'the line of Channel.fire in channel.ts');
  channel.hangup();
});

test('MEDIA_BUG_START when a bug is attached and MEDIA_BUG_STOP when it is removed or closed at hangup: Media-Bug-Function and -Target first', () => {
  const { channel, events } = setup();
  const a = new RecordingBug('audio_stream');
  const targeted: MediaBug = Object.assign(new RecordingBug('other'), { target: 'sofia/internal/2000@192.0.2.2' });
  events.length = 0;
  channel.addBug(a);
  assert.equal(channel.addBug(new RecordingBug('audio_stream')), false);
  channel.addBug(targeted);
  channel.removeBug(a);
  channel.removeBug(a);
  channel.hangup();
  const bugEvents = events.filter((e) => e.name.startsWith('MEDIA_BUG'));
  assert.deepEqual(bugEvents.map((e) => [e.name, e.get('Media-Bug-Function'), e.get('Media-Bug-Target'), e.get('Channel-State')]), [
    ['MEDIA_BUG_START', 'audio_stream', 'N/A', 'CS_INIT'],
    ['MEDIA_BUG_START', 'other', 'sofia/internal/2000@192.0.2.2', 'CS_INIT'],
    ['MEDIA_BUG_STOP', 'audio_stream', 'N/A', 'CS_INIT'],
    ['MEDIA_BUG_STOP', 'other', 'sofia/internal/2000@192.0.2.2', 'CS_HANGUP'],
  ], 'a refused bug and a second removal fire nothing');
  for (const e of bugEvents) {
    assert.deepEqual(e.headers.slice(13, 16).map(([n]) => n), ['Media-Bug-Function', 'Media-Bug-Target', 'Channel-State']);
    assert.equal(e.get('Event-Calling-File'), 'channel.ts');
  }
});

test('hold: CHANNEL_CALLSTATE HELD, CHANNEL_HOLD; unhold: UNHELD, CHANNEL_UNHOLD, ACTIVE; the hold times and hold_events', () => {
  const { channel, events } = setup();
  channel.answer();
  events.length = 0;
  channel.setHold(true);
  channel.setHold(true);
  const heldAt = channel.lastHoldAtUs;
  channel.setHold(false);
  channel.setHold(false);
  assert.deepEqual(events.map((e) => [e.name, e.get('Channel-Call-State')]), [
    ['CHANNEL_CALLSTATE', 'HELD'], ['CHANNEL_HOLD', 'HELD'], ['CHANNEL_CALLSTATE', 'UNHELD'], ['CHANNEL_UNHOLD', 'UNHELD'],
    ['CHANNEL_CALLSTATE', 'ACTIVE'],
  ]);
  assert.equal(events[0]!.get('Caller-Channel-Last-Hold'), '0', 'the hold time is taken after the call state changes');
  assert.equal(events[1]!.get('Caller-Channel-Last-Hold'), heldAt.toString());
  assert.equal(events[3]!.get('Caller-Channel-Hold-Accum'), channel.holdAccumUs.toString());
  channel.hangup();
  const complete = events.find((e) => e.name === 'CHANNEL_HANGUP_COMPLETE')!;
  assert.match(complete.get('variable_hold_events')!, new RegExp(`^\\{\\{${heldAt},\\d+\\}\\}$`));
  assert.equal(complete.get('variable_hold_accum_usec'), channel.holdAccumUs.toString());
});

/** The names of the headers an Event Socket client receives (FreeSWITCH leaves out empty values). */
function wireNames(e: FsEvent): string[] {
  return e.headers.filter(([, v]) => v !== '').map(([n]) => n);
}

function withoutVariables(list: string[]): string[] {
  return list.filter((n) => !n.startsWith('variable_'));
}

function statesOf(e: FsEvent): string {
  return ['Channel-State', 'Channel-State-Number', 'Channel-Call-State', 'Answer-State'].map((n) => e.get(n) ?? '').join(' ').trim();
}

test('the events of a parked call have FreeSWITCH 1.10.12\'s headers in its order, and its state headers, event by event', () => {
  const { channel, events } = setup();
  // What the dialplan and mod_audio_stream do for the oracle's call: answer, park, a stream started,
  // a server message, stopped, started again; then the caller hangs up.
  channel.setState('CS_ROUTING');
  channel.setState('CS_EXECUTE');
  const app = (name: string): void => {
    channel.executing(name, '');
    channel.fire('CHANNEL_EXECUTE', undefined, undefined, { Application: name, 'Application-Data': '', 'Application-UUID': 'u' });
  };
  app('answer');
  channel.answer();
  channel.fire('CHANNEL_EXECUTE_COMPLETE', undefined, undefined,
    { Application: 'answer', 'Application-Data': '', 'Application-Response': '_none_', 'Application-UUID': 'u' });
  app('park');
  channel.park();
  const stream = new RecordingBug('audio_stream');
  channel.addBug(stream);
  channel.fire('CUSTOM', 'mod_audio_stream::connect', '{"status":"connected"}');
  channel.fire('CUSTOM', 'mod_audio_stream::json', '{}');
  channel.removeBug(stream);
  channel.addBug(new RecordingBug('audio_stream'));
  channel.fire('CUSTOM', 'mod_audio_stream::connect', '{"status":"connected"}');
  channel.hangup();
  // audio-stream does not fire the park application's CHANNEL_EXECUTE_COMPLETE after the hangup.
  const fs = FS_PARK_CALL.filter((entry, i) => !(entry[0] === 'CHANNEL_EXECUTE_COMPLETE' && FS_PARK_CALL[i - 1]![0] === 'CHANNEL_UNPARK'));
  const ours = events.map((e) => e.subclass ? `CUSTOM ${e.subclass}` : e.name);
  assert.deepEqual(ours, fs.map(([name]) => name));
  fs.forEach((entry: FsEventEntry, i) => {
    const e = events[i]!;
    const what = `${entry[0]} (#${i})`;
    assert.deepEqual(withoutVariables(wireNames(e)), withoutVariables(headerNames(entry)), what);
    assert.equal(wireNames(e).some((n) => n.startsWith('variable_')), headerNames(entry).some((n) => n.startsWith('variable_')), what);
    assert.equal(statesOf(e), entry[1], what);
  });
});

test('DTMF, CHANNEL_HOLD and CHANNEL_UNHOLD have FreeSWITCH\'s headers (the DTMF ones after the channel data)', () => {
  const { channel, events } = setup();
  channel.setState('CS_ROUTING');
  channel.setState('CS_EXECUTE');
  channel.answer();
  channel.executing('park', '');
  channel.park();
  channel.dtmf('1', 100, 'RTP');
  channel.setHold(true);
  channel.setHold(false);
  for (const entry of FS_OTHER_EVENTS) {
    const e = events.find((x) => x.name === entry[0])!;
    assert.deepEqual(withoutVariables(wireNames(e)), withoutVariables(headerNames(entry)), entry[0]);
    assert.equal(statesOf(e), entry[1], entry[0]);
  }
  channel.hangup();
});

test('a bug or an endpoint that throws at hangup is counted and logged; the hangup still completes', async () => {
  const { channel, events, registry } = setup();
  const lines: string[] = [];
  const removeSink = addLogSink((level, scope, message) => { if (scope === 'channel') lines.push(`${level} ${message.split('\\n')[0]}`); });
  try {
    const broken = new RecordingBug('broken');
    broken.onChannelClose = () => { throw new Error('close failed'); };
    const after = new RecordingBug('after');
    channel.addBug(broken);
    channel.addBug(after);
    channel.hangup('USER_BUSY');
    assert.equal(after.closes, 1, 'the next bug was still closed');
    assert.deepEqual(names(events).filter((n) => n.startsWith('CHANNEL_HANGUP') || n === 'CHANNEL_DESTROY'),
      ['CHANNEL_HANGUP', 'CHANNEL_HANGUP_COMPLETE', 'CHANNEL_DESTROY']);
    assert.deepEqual(events.filter((e) => e.name === 'MEDIA_BUG_STOP').map((e) => e.get('Media-Bug-Function')), ['broken', 'after'],
      'a bug that failed to close is still reported stopped');
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
