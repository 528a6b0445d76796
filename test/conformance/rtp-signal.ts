// The conformance calls' test signal: deterministic and noise-like, so that a stretch of it is
// found at exactly one place in a stream.

/** A seeded LCG through a gentle low-pass, int16. */
export function testSignal(samples: number, seed = 12345, amplitude = 6000): Int16Array {
  const out = new Int16Array(samples);
  let state = seed >>> 0;
  let smoothed = 0;
  for (let i = 0; i < samples; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const white = (state / 0x100000000) * 2 - 1;
    smoothed = 0.6 * smoothed + 0.4 * white;
    out[i] = Math.round(smoothed * amplitude * 2);
  }
  return out;
}
