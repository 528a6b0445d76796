import { test } from 'node:test';
import assert from 'node:assert/strict';
import { executeApplication, expandVariables } from './applications.ts';
import { findRoute } from './dialplan.ts';
import { buildConfig } from '../config/load.ts';
import { makeChannel, collectEvents } from '../../test/helpers/harness.ts';

test('set with ${var} expansion; execute events carry the application', async () => {
  const { core, channel } = makeChannel();
  const ev = collectEvents(core);
  assert.equal(await executeApplication(core, channel, 'set', 'greeting=hi ${caller_id_number} ${nope}'), '+OK');
  assert.equal(channel.getVariable('greeting'), 'hi 1000 ');
  assert.equal(expandVariables(channel, '{"call":"${uuid}"}'), `{"call":"${channel.uuid}"}`);
  const done = ev.events.find((e) => e.name === 'CHANNEL_EXECUTE_COMPLETE')!;
  assert.equal(done.get('Application'), 'set');
  assert.equal(done.get('Application-Response'), '+OK');
  assert.match(await executeApplication(core, channel, 'dance', ''), /^-ERR unknown application dance/);
  channel.hangup();
});

test('a hangup ends a sleep at once and leaves no timer behind', async () => {
  const { core, channel } = makeChannel();
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = timers();
  const sleeping = executeApplication(core, channel, 'sleep', '600000');
  assert.equal(timers(), before + 1);
  channel.hangup('USER_BUSY');
  assert.equal(await sleeping, '+OK');
  assert.equal(timers(), before);
  assert.equal(channel.hangupCause, 'USER_BUSY');
  assert.match(await executeApplication(core, channel, 'sleep', '1'), /^-ERR channel hung up/);
});

test('routes: the first whose patterns all match', () => {
  const { routes } = buildConfig({ routes: [
    { match: { destination: '^1', headers: { 'X-Tenant': '^acme$' } }, actions: ['answer'] },
    { match: { caller: '^\\+44' }, actions: ['park'] },
    { actions: ['hangup'] },
  ] });
  const call = (destination: string, caller: string, tenant?: string) => ({ destination, caller, header: (n: string) => (n === 'X-Tenant' ? tenant : undefined) });
  assert.equal(findRoute(routes, call('100', '+1', 'acme')), routes[0]);
  assert.equal(findRoute(routes, call('100', '+44', 'other')), routes[1]);
  assert.equal(findRoute(routes, call('200', '+1')), routes[2]);
});
