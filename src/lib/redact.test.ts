import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSecretName, redactValue, redactVariables, REDACTED, redactForLog } from './redact.ts';

test('isSecretName: a last word PASSWORD, PASSWD, TOKEN, SECRET or AUTHORIZATION, any case and separator', () => {
  for (const name of ['PASSWORD', 'password', 'DB_PASSWORD', 'db-password', 'sip_auth_password', 'ldap.passwd', 'API_TOKEN', 'api-token',
    'sip_h_X-Auth-Token', 'sip_h_X-API-TOKEN', 'sip_h_x-session-token', 'CLIENT_SECRET', 'clientSecret', 'apiToken', 'userPassword',
    'sip_h_Authorization', 'sip_h_Proxy-Authorization', 'TOKEN', 'Secret']) {
    assert.equal(isSecretName(name), true, name);
  }
  for (const name of ['', 'sip_from_user', 'TOKENS', 'MYTOKEN', 'mytoken', 'TOKEN_TYPE', 'password_hint', 'STREAM_EXTRA_HEADERS', 'sip_h_X-Tokenizer',
    'secretary', 'Unique-ID', 'STREAM_MESSAGE_DEFLATE', 'sip_h_X-Test-Case']) {
    assert.equal(isSecretName(name), false, name);
  }
});

test('redactValue: secrets whole, STREAM_EXTRA_HEADERS member by member, everything else as it is', () => {
  assert.equal(redactValue('DB_PASSWORD', 'hunter2'), REDACTED);
  assert.equal(redactValue('sip_h_X-Auth-Token', 'abc'), REDACTED);
  assert.equal(redactValue('sip_from_user', '1000'), '1000');
  assert.equal(redactValue('STREAM_EXTRA_HEADERS', '{"Authorization":"Bearer s3cret","X-Tenant":"acme"}'),
    '{"Authorization":"[redacted]","X-Tenant":"[redacted]"}');
  assert.equal(redactValue('stream_extra_headers', '{}'), '{}');
  assert.equal(redactValue('STREAM_EXTRA_HEADERS', '{"__proto__":"x","n":1}'), '{"__proto__":"[redacted]","n":"[redacted]"}');
  for (const malformed of ['{"Authorization":"Bearer s3cret"', 'Bearer s3cret', '["s3cret"]', 'null', '"s3cret"', '']) {
    assert.equal(redactValue('STREAM_EXTRA_HEADERS', malformed), REDACTED, malformed);
  }
});

test('redactVariables keeps the order and every name', () => {
  const out = redactVariables([['a', '1'], ['MY_TOKEN', 't'], ['__proto__', 'p'], ['STREAM_EXTRA_HEADERS', '{"X-Key":"k"}']]);
  assert.deepEqual(Object.keys(out), ['a', 'MY_TOKEN', '__proto__', 'STREAM_EXTRA_HEADERS']);
  assert.deepEqual(Object.values(out), ['1', REDACTED, 'p', '{"X-Key":"[redacted]"}']);
});

test('redactForLog: the value of a secret assignment in a set/export or uuid_setvar text is redacted, names and the rest kept', () => {
  assert.equal(redactForLog('set DB_PASSWORD=hunter2'), 'set DB_PASSWORD=[redacted]');
  assert.equal(redactForLog('API_TOKEN=abc def'), 'API_TOKEN=[redacted]');
  assert.equal(redactForLog('export STREAM_EXTRA_HEADERS={"Authorization":"Bearer x"}'), 'export STREAM_EXTRA_HEADERS={"Authorization":"[redacted]"}');
  assert.equal(redactForLog('uuid_setvar 1234 sip_h_X-Auth-Token s3cret value'), 'uuid_setvar 1234 sip_h_X-Auth-Token [redacted]');
  assert.equal(redactForLog('set STREAM_BUFFER_SIZE=100'), 'set STREAM_BUFFER_SIZE=100');
  assert.equal(redactForLog('uuid_setvar 1234 caller_name Bob'), 'uuid_setvar 1234 caller_name Bob');
  assert.equal(redactForLog('start ws://x mono 8k'), 'start ws://x mono 8k');
});
