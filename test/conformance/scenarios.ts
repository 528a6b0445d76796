// The conformance scenarios: each is run the same way against the real module and against
// audio-stream (driver.ts), and their transcripts compared (compare.ts).
import type { Scenario, Step } from './driver.ts';

const START = 'uuid_audio_stream ${uuid} start ${url}';
const STOP = 'uuid_audio_stream ${uuid} stop';

/** A short raw 8 kHz clip (a ramp), base64, for streamAudio replies. */
function rawClip(samples: number): string {
  const b = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) b.writeInt16LE(((i * 97) % 2000) - 1000, i * 2);
  return b.toString('base64');
}

const streamAudio = (rate: number, data: string) =>
  JSON.stringify({ type: 'streamAudio', data: { audioDataType: 'raw', sampleRate: rate, audioData: data } });

/** Start, stream `messages` binary messages, stop: the audio scenarios. */
function streamed(name: string, mix: 'mono' | 'mixed' | 'stereo', rate: '8k' | '16k', opts: { bufferMs?: number; ptimeMs?: 20 | 30; messages?: number } = {}): Scenario {
  const rateHz = rate === '8k' ? 8000 : 16000;
  const vars = opts.bufferMs ? { STREAM_BUFFER_SIZE: String(opts.bufferMs) } : undefined;
  const bufferMs = opts.bufferMs ?? 20;
  const messages = opts.messages ?? Math.ceil(900 / bufferMs);
  return {
    name, about: `${mix} ${rate}, ${bufferMs} ms per message, ptime ${opts.ptimeMs ?? 20}: metadata first, then exact chunks of the caller's audio, sample for sample`,
    ptimeMs: opts.ptimeMs, vars, audio: { rateHz, channels: mix === 'stereo' ? 2 : 1 },
    steps: [
      { api: `${START} ${mix} ${rate} {"scenario":"${name}","note":"with spaces"}` },
      // With nothing written to the caller the module sends no audio in mixed and stereo: wait 2 s at most.
      { event: 'connect' }, { binaries: messages, timeoutMs: mix === 'mono' ? 10000 : 2000 }, { api: `${STOP}` }, { sleep: 300 },
    ],
  };
}

/** A file played to the caller while streaming: the write leg has audio (stereo's right channel). */
function playedInto(name: string, mix: 'mixed' | 'stereo', rate: '8k' | '16k'): Scenario {
  const rateHz = rate === '8k' ? 8000 : 16000;
  return {
    name, about: `${mix} ${rate} while a WAV file plays to the caller: both directions, each channel sample for sample`,
    audio: mix === 'stereo' ? { rateHz, channels: 2 } : undefined,
    steps: [
      { api: 'uuid_broadcast ${uuid} ${wav} aleg' }, { sleep: 200 },
      { api: `${START} ${mix} ${rate}` }, { event: 'connect' }, { binaries: 50 }, { api: STOP }, { sleep: 300 },
    ],
  };
}

const wait = (ms: number): Step => ({ sleep: ms });

export const SCENARIOS: Scenario[] = [
  streamed('mono-8k', 'mono', '8k'),
  streamed('mono-16k', 'mono', '16k'),
  streamed('mixed-8k', 'mixed', '8k'),
  streamed('mixed-16k', 'mixed', '16k'),
  streamed('stereo-8k', 'stereo', '8k'),
  streamed('stereo-16k', 'stereo', '16k'),
  streamed('buffer-40-16k', 'mono', '16k', { bufferMs: 40 }),
  streamed('buffer-100-16k', 'mono', '16k', { bufferMs: 100 }),
  streamed('buffer-100-8k', 'mono', '8k', { bufferMs: 100 }),
  streamed('ptime-30-8k', 'mono', '8k', { ptimeMs: 30 }),
  streamed('ptime-30-16k', 'mono', '16k', { ptimeMs: 30 }),
  playedInto('stereo-playback-8k', 'stereo', '8k'),
  playedInto('stereo-playback-16k', 'stereo', '16k'),
  playedInto('mixed-playback-8k', 'mixed', '8k'),
  {
    name: 'pause-resume', about: 'pause stops the audio until resume; texts sent while paused arrive in order',
    steps: [
      { api: `${START} mono 8k` }, { event: 'connect' }, { binaries: 10 },
      { api: 'uuid_audio_stream ${uuid} pause' }, wait(200), { api: 'uuid_audio_stream ${uuid} send_text paused' }, wait(600),
      { api: 'uuid_audio_stream ${uuid} send_text resuming' }, { api: 'uuid_audio_stream ${uuid} resume' },
      { binaries: 30 }, { api: STOP }, wait(300),
    ],
  },
  {
    name: 'send-text', about: 'send_text goes out as a text message between the audio; quoted text keeps its spaces',
    steps: [
      { api: `${START} mono 16k` }, { event: 'connect' }, { binaries: 5 },
      { api: 'uuid_audio_stream ${uuid} send_text {"event":"hello"}' }, { binaries: 10 },
      { api: "uuid_audio_stream ${uuid} send_text 'two words'" }, { binaries: 15 }, { api: STOP }, wait(300),
    ],
  },
  {
    name: 'stop-with-text', about: 'stop sends its text, then closes 1000 "Normal closure"; no event fires',
    steps: [{ api: `${START} mono 8k meta` }, { event: 'connect' }, { binaries: 5 }, { api: `${STOP} goodbye` }, wait(500)],
  },
  {
    name: 'server-close-1000', about: 'the server closes 1000: disconnect event with its reason; the stream stays attached; stop still answers +OK',
    steps: [
      { api: `${START} mono 8k` }, { event: 'connect' }, { binaries: 5 }, { serverClose: [1000, 'done'] },
      { event: 'disconnect' }, wait(300), { api: `${START} mono 8k` }, { api: STOP }, wait(300),
    ],
  },
  {
    name: 'server-close-4000', about: 'the server closes 4000 with a reason: disconnect event carries both',
    steps: [{ api: `${START} mono 8k` }, { event: 'connect' }, { binaries: 5 }, { serverClose: [4000, 'bot finished'] }, { event: 'disconnect' }, wait(300), { api: STOP }],
  },
  {
    name: 'refused', server: 'refused', about: 'nothing listens: +OK, then error 6; the stream is gone (stop answers -ERR)',
    steps: [{ api: `${START} mono 8k` }, { event: 'error' }, wait(300), { api: STOP }],
  },
  {
    name: 'upgrade-never-answered', server: 'no-answer', about: 'the server accepts TCP and never answers the upgrade: error 10 (the module\'s 1 s deadline; ours STREAM_CONNECT_TIMEOUT_MS)',
    vars: { STREAM_CONNECT_TIMEOUT_MS: '1000' },
    steps: [{ api: `${START} mono 8k` }, { event: 'error', timeoutMs: 8000 }, wait(300), { api: STOP }],
  },
  {
    name: 'upgrade-http-400', server: 'http400', about: 'HTTP 400 to the upgrade: error 6 "WebSocket upgrade failed"',
    steps: [{ api: `${START} mono 8k` }, { event: 'error' }, wait(300), { api: STOP }],
  },
  {
    name: 'json-reply', about: 'a text message from the server becomes a json event, verbatim',
    steps: [
      { api: `${START} mono 8k` }, { event: 'connect' }, { serverSend: '{"type":"transcript","text":"hello world","final":true}' },
      { event: 'json' }, { serverSend: 'not json at all' }, { event: 'json', count: 2 }, { binaries: 3 }, { api: STOP }, wait(300),
    ],
  },
  {
    name: 'stream-audio-8000', about: 'streamAudio raw 8000: a play event with the file written',
    steps: [{ api: `${START} mono 8k` }, { event: 'connect' }, { serverSend: streamAudio(8000, rawClip(800)) }, { event: 'play' }, { binaries: 3 }, { api: STOP }, wait(300)],
  },
  {
    name: 'stream-audio-16000', about: 'streamAudio raw 16000: .r16 file',
    steps: [{ api: `${START} mono 16k` }, { event: 'connect' }, { serverSend: streamAudio(16000, rawClip(1600)) }, { event: 'play' }, { binaries: 3 }, { api: STOP }, wait(300)],
  },
  {
    name: 'stream-audio-bad-base64', about: 'streamAudio with bad base64',
    steps: [{ api: `${START} mono 8k` }, { event: 'connect' }, { serverSend: streamAudio(8000, '%%%not base64%%%') }, wait(800), { binaries: 3 }, { api: STOP }, wait(300)],
  },
  {
    name: 'start-twice', about: 'a second start on a streaming channel is refused; the first stream goes on',
    steps: [{ api: `${START} mono 8k` }, { event: 'connect' }, { api: `${START} mono 16k` }, { binaries: 5 }, { api: STOP }, wait(300)],
  },
  {
    name: 'unknown-uuid', about: 'every sub-command on a uuid that is not a channel',
    steps: [
      { api: 'uuid_audio_stream 00000000-0000-4000-8000-000000000000 start ${url} mono 8k' },
      { api: 'uuid_audio_stream 00000000-0000-4000-8000-000000000000 stop' },
      { api: 'uuid_audio_stream 00000000-0000-4000-8000-000000000000 pause' },
    ],
  },
  {
    name: 'wrong-arguments', about: 'usage and validation replies (no stream is started by any of them)',
    steps: [
      { api: 'uuid_audio_stream' }, { api: 'uuid_audio_stream ${uuid}' }, { api: 'uuid_audio_stream ${uuid} start ${url}' },
      // (`32k` and 44100, refused by the module, are ours: the scenario beyond-the-module.)
      { api: `${START} quad 8k` }, { api: `${START} mono 12000` }, { api: `${START} mono 7999` },
      { api: 'uuid_audio_stream ${uuid} start http://127.0.0.1:1/ mono 8k' },
      { api: 'uuid_audio_stream ${uuid} frobnicate' }, { api: 'uuid_audio_stream ${uuid} graceful-shutdown' },
      { api: STOP }, { api: 'uuid_audio_stream ${uuid} pause' }, { api: 'uuid_audio_stream ${uuid} resume' },
      { api: 'uuid_audio_stream ${uuid} send_text hello' }, { api: 'uuid_audio_stream ${uuid} send_text' },
      wait(500),
    ],
  },
  {
    name: 'beyond-the-module', about: 'what the module refuses and audio-stream takes: 32k (the module reads 32 Hz), 44100 (not a multiple of 8000), an IPv6 literal',
    steps: [
      // The module refuses these: nothing comes, so the waits are short.
      { api: `${START} mono 32k` }, { event: 'connect', timeoutMs: 2000 }, { binaries: 3, timeoutMs: 1000 }, { api: STOP }, wait(300),
      { api: `${START} mono 44100` }, { event: 'connect', count: 2, timeoutMs: 2000 }, { binaries: 3, timeoutMs: 1000 }, { api: STOP }, wait(300),
      // An IPv6 literal (the module's URL check refuses it): nothing listens on [::1]:1, so error 6.
      { api: 'uuid_audio_stream ${uuid} start ws://[::1]:1/ mono 8k' }, { event: 'error', timeoutMs: 2000 }, wait(300),
    ],
  },
  {
    name: 'hangup-while-streaming', about: 'the call hangs up while streaming: the connection closes, no event fires',
    steps: [{ api: `${START} mono 8k` }, { event: 'connect' }, { binaries: 10 }, { hangup: true }, wait(500)],
  },
  {
    name: 'extra-headers', about: 'STREAM_EXTRA_HEADERS become upgrade request headers',
    vars: { STREAM_EXTRA_HEADERS: '{"X-Api-Key":"abc123","X-Call-Source":"conformance"}' },
    steps: [{ api: `${START} mono 8k` }, { event: 'connect' }, { binaries: 3 }, { api: STOP }, wait(300)],
  },
  {
    name: 'heartbeat', about: 'STREAM_HEART_BEAT=1: pings every second, answered by the server; the stream stays up',
    vars: { STREAM_HEART_BEAT: '1' },
    steps: [{ api: `${START} mono 8k` }, { event: 'connect' }, wait(2600), { binaries: 3 }, { api: STOP }, wait(300)],
  },
  {
    name: 'media-bug-events', about: 'MEDIA_BUG_START and MEDIA_BUG_STOP around a stream, with the module\'s function and target',
    channelEvents: ['MEDIA_BUG_START', 'MEDIA_BUG_STOP'],
    steps: [{ api: `${START} mono 8k` }, { event: 'connect' }, { binaries: 3 }, { api: STOP }, { event: 'MEDIA_BUG_STOP' }, wait(300)],
  },
  {
    name: 'channel-events', about: 'the channel events of a parked call that streams and hangs up: headers, order, values',
    channelEvents: ['CHANNEL_PARK', 'CHANNEL_HANGUP', 'CHANNEL_HANGUP_COMPLETE', 'CHANNEL_DESTROY'],
    steps: [{ api: `${START} mono 8k` }, { event: 'connect' }, { binaries: 3 }, { hangup: true }, wait(300)],
  },
];

/** fs_cli -x commands run on an idle target (no channels), compared byte for byte. */
export const CLI_COMMANDS: string[] = [
  'hostname', 'switchname', 'version', 'version short', 'nosuch foo', 'show channels count', 'show calls count', 'show calls',
  'show channels as json', 'hupall', 'uuid_audio_stream', 'uuid_audio_stream 00000000-0000-4000-8000-000000000000 stop',
  ...['uuid_exists', 'uuid_kill', 'uuid_getvar', 'uuid_setvar', 'uuid_setvar_multi', 'uuid_dump', 'uuid_break', 'uuid_answer',
    'uuid_pre_answer', 'uuid_broadcast'].flatMap((c) => [c, `${c} 00000000-0000-4000-8000-000000000000 x y`]),
];
