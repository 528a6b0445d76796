import { test } from 'node:test';
import assert from 'node:assert/strict';
import { switchTrue } from './switch-true.ts';

test('switchTrue accepts FreeSWITCH truth words and non-zero numbers', () => {
  for (const v of ['yes', 'ON', 'true', 't', 'Enabled', 'active', 'allow', '1', '-3', ' 42 ']) {
    assert.equal(switchTrue(v), true, v);
  }
  for (const v of [undefined, null, '', 'no', 'false', 'off', '0', '00', 'tru', '1.5', 'y']) {
    assert.equal(switchTrue(v as string | undefined), false, String(v));
  }
});
