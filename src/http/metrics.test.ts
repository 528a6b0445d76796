import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Runtime } from '../service/runtime.ts';
import { renderMetrics } from './metrics.ts';

test('every family has one HELP and one TYPE line, label sets of one name included', () => {
  const runtime = new Runtime();
  const text = renderMetrics(runtime.channels, runtime.streams, [
    () => [
      { name: 'x_refused_total', help: 'By limit.', type: 'counter', value: 2, labels: { limit: 'a' } },
      { name: 'x_refused_total', help: 'By limit.', type: 'counter', value: 3, labels: { limit: 'b' } },
      { name: 'x_other', help: 'Other.', type: 'gauge', value: 1 },
    ],
  ]);
  assert.match(text, /# HELP x_refused_total By limit\.\n# TYPE x_refused_total counter\nx_refused_total\{limit="a"\} 2\nx_refused_total\{limit="b"\} 3\n/);
  const types = text.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]);
  assert.equal(new Set(types).size, types.length, 'no family twice');
  assert.ok(types.includes('audio_stream_reconnect_attempts_total') && types.includes('x_other'));
});
