import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applicationResponse, expandVariables, findRoute } from './dialplan.ts';
import { UUID_AUDIO_STREAM_SYNTAX } from '../audio-stream/command.ts';
import { buildConfig } from '../config/load.ts';
import { makeChannel, collectEvents } from '../../test/helpers/harness.ts';
import { FakeClock } from '../../test/helpers/fake-clock.ts';
import { addLogSink } from '../lib/logger.ts';
import { serviceApplications, type Runtime } from '../service/runtime.ts';

const runtimeApplications = serviceApplications();
import type { Channel } from '../channel/channel.ts';

/** Runs an application through the runtime's dialplan; resolves with its Application-Response. */
async function executeApplication(runtime: Runtime, channel: Channel, app: string, data: string): Promise<string> {
  return applicationResponse(await runtime.dialplan.execute(channel, app, data));
}

test('set with ${var} expansion; execute events carry the application', async () => {
  const { runtime, channel } = makeChannel();
  const ev = collectEvents(runtime);
  assert.equal(await executeApplication(runtime, channel, 'set', 'greeting=hi ${caller_id_number} ${nope}'), '+OK');
  assert.equal(channel.getVariable('greeting'), 'hi 1000 ');
  assert.equal(expandVariables(channel, '{"call":"${uuid}"}'), `{"call":"${channel.uuid}"}`);
  const done = ev.events.find((e) => e.name === 'CHANNEL_EXECUTE_COMPLETE')!;
  assert.equal(done.get('Application'), 'set');
  assert.equal(done.get('Application-Response'), '+OK');
  assert.match(await executeApplication(runtime, channel, 'dance', ''), /^-ERR unknown application dance/);
  channel.hangup();
});

test('a hangup ends a sleep at once and leaves no timer behind', async () => {
  const clock = new FakeClock();
  const { runtime, channel } = makeChannel({ clock });
  const timers = () => clock.pending;
  const before = timers();
  const sleeping = executeApplication(runtime, channel, 'sleep', '600000');
  assert.equal(timers(), before + 1);
  channel.hangup('USER_BUSY');
  assert.equal(await sleeping, '+OK');
  assert.equal(timers(), before);
  assert.equal(channel.hangupCause, 'USER_BUSY');
  assert.match(await executeApplication(runtime, channel, 'sleep', '1'), /^-ERR channel hung up/);
});

test('sleep ends when its time has passed on the clock, not before', async () => {
  const clock = new FakeClock();
  const { runtime, channel } = makeChannel({ clock });
  let done = false;
  const sleeping = executeApplication(runtime, channel, 'sleep', '30000').then((r) => { done = true; return r; });
  clock.advance(29_999);
  await Promise.resolve();
  assert.equal(done, false);
  clock.advance(1);
  assert.equal(await sleeping, '+OK');
  channel.hangup();
});

test('routes: the first whose patterns all match', () => {
  const { routes } = buildConfig({ routes: [
    { match: { destination: '^1', headers: { 'X-Tenant': '^acme$' } }, actions: ['answer'] },
    { match: { caller: '^\\+44' }, actions: ['park'] },
    { actions: ['hangup'] },
  ] }, (app, data) => runtimeApplications.check(app, data));
  const call = (destination: string, caller: string, tenant?: string) => ({ destination, caller, header: (n: string) => (n === 'X-Tenant' ? tenant : undefined) });
  assert.equal(findRoute(routes, call('100', '+1', 'acme')), routes[0]);
  assert.equal(findRoute(routes, call('100', '+44', 'other')), routes[1]);
  assert.equal(findRoute(routes, call('200', '+1')), routes[2]);
});

test('log: a line at the level named first (debug when it is not a level), with ${var} expansion', async (t) => {
  const { runtime, channel } = makeChannel();
  const lines: string[] = [];
  t.after(addLogSink((level, scope, message) => { if (scope === `dialplan(${channel.uuid})`) lines.push(`${level} ${message}`); }));
  assert.equal(await executeApplication(runtime, channel, 'log', 'INFO caller ${caller_id_number} is here'), '+OK');
  assert.equal(await executeApplication(runtime, channel, 'log', 'crit disk full'), '+OK');
  assert.equal(await executeApplication(runtime, channel, 'log', 'just text'), '+OK');
  assert.equal(await executeApplication(runtime, channel, 'log', 'constructor is no level'), '+OK');
  assert.equal(await executeApplication(runtime, channel, 'log', 'error is not FreeSWITCH\'s'), '+OK');
  assert.deepEqual(lines, ['info caller 1000 is here', 'error disk full', 'debug just text', 'debug constructor is no level',
    'debug error is not FreeSWITCH\'s']);
  channel.hangup();
});

test('a queued application with an Event-UUID: app_uuid is set while it starts, as switch_ivr_parse_event does', async () => {
  const { runtime, channel } = makeChannel();
  const ev = collectEvents(runtime);
  const uuid = '0a1b2c3d-0000-4000-8000-000000000001';
  const r = await runtime.dialplan.queue(channel, 'set', 'seen=${app_uuid}', { applicationUuid: uuid });
  assert.ok(r.ok);
  assert.equal(channel.getVariable('seen'), uuid, '${app_uuid} expanded');
  const start = ev.events.find((e) => e.name === 'CHANNEL_EXECUTE')!;
  assert.equal(start.get('Application-UUID'), uuid);
  assert.equal(start.get('variable_app_uuid'), uuid);
  assert.equal(ev.events.find((e) => e.name === 'CHANNEL_EXECUTE_COMPLETE')!.get('Application-UUID'), uuid);
  assert.equal(channel.getVariable('app_uuid'), undefined, 'unset once it has started');
  channel.hangup();
});

test('audio_stream with too few arguments answers -USAGE, as uuid_audio_stream does', async () => {
  const { runtime, channel } = makeChannel();
  const ev = collectEvents(runtime);
  assert.equal(await executeApplication(runtime, channel, 'audio_stream', 'start ws://127.0.0.1:1'), `-USAGE: ${UUID_AUDIO_STREAM_SYNTAX}`);
  assert.equal(ev.events.find((e) => e.name === 'CHANNEL_EXECUTE_COMPLETE')!.get('Application-Response'), `-USAGE: ${UUID_AUDIO_STREAM_SYNTAX}`);
  channel.hangup();
});

test('playback: a tone_stream:// answers FILE PLAYED (broken off too, as mod_dptools), a missing file FILE NOT FOUND and PLAYBACK_STOP with the failure', async () => {
  const { runtime, channel } = makeChannel();
  const ev = collectEvents(runtime);
  const played = executeApplication(runtime, channel, 'playback', 'tone_stream://%(100,0,440)');
  await channel.playback.loaded();
  let frames = 0;
  while (channel.playback.nextFrame(160)) frames++;
  assert.equal(frames, 5);
  assert.equal(await played, 'FILE PLAYED');
  const broken = executeApplication(runtime, channel, 'playback', 'silence_stream://-1');
  await channel.playback.loaded();
  channel.playback.nextFrame(160);
  channel.playback.clear();
  assert.equal(await broken, 'FILE PLAYED');
  ev.events.length = 0;
  assert.equal(await executeApplication(runtime, channel, 'playback', '/nonexistent.wav'), 'FILE NOT FOUND');
  assert.deepEqual(ev.events.map((e) => e.name), ['CHANNEL_EXECUTE', 'PLAYBACK_STOP', 'CHANNEL_EXECUTE_COMPLETE']);
  const stop = ev.events.find((e) => e.name === 'PLAYBACK_STOP')!;
  assert.equal(stop.get('Playback-Status'), 'fail');
  assert.equal(stop.get('Playback-File-Path'), '/nonexistent.wav');
  assert.match(stop.get('Playback-Error') ?? '', /ENOENT|no such file/i);
  channel.hangup();
});

test('a route whose playback is a tone script FreeSWITCH would skip parts of is refused at load, naming the problem', () => {
  const check = (data: string) => runtimeApplications.check('playback', data);
  assert.equal(check('tone_stream://%(2000,4000,440,480);loops=-1').ok, true);
  assert.equal(check('tone_stream://%(100,0,${freq})').ok, true, 'variables are expanded when it runs');
  assert.equal(check('silence_stream://500').ok, true);
  assert.equal(check('/sounds/hello.wav').ok, true);
  const bad = check('tone_stream://%(100)');
  assert.equal(bad.ok, false);
  assert.match(!bad.ok ? bad.error.message : '', /syntax error at "%\(100\)"/);
  assert.throws(() => buildConfig({ routes: [{ actions: ['answer', { playback: 'tone_stream://%(100,100,1000);%(100)' }] }] },
    (app, data) => runtimeApplications.check(app, data)), /syntax error/);
});
