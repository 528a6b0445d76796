// Transcripts: what a client saw of one scenario, normalised so that two runs (the real module's
// and ours, or a golden file and a run) compare field by field: uuids, times, sequence numbers,
// hostnames, ports and temp paths are replaced by placeholders; the audio is kept as an excerpt
// to compare sample by sample.
import type { RawTranscript, Scenario } from './driver.ts';

export const TRANSCRIPT_VERSION = 1;

/** Headers whose values are compared (after normalisation); the others by name and order only. */
const VALUE_HEADERS = new Set([
  'Event-Name', 'Event-Subclass', 'Channel-State', 'Channel-Call-State', 'Channel-State-Number', 'Channel-Name',
  'Unique-ID', 'Call-Direction', 'Presence-Call-Direction', 'Channel-HIT-Dialplan', 'Channel-Call-UUID', 'Answer-State',
  'Channel-Read-Codec-Name', 'Channel-Read-Codec-Rate', 'Channel-Read-Codec-Bit-Rate',
  'Channel-Write-Codec-Name', 'Channel-Write-Codec-Rate', 'Channel-Write-Codec-Bit-Rate',
  'Caller-Direction', 'Caller-Logical-Direction', 'Caller-Username', 'Caller-Dialplan', 'Caller-Caller-ID-Name',
  'Caller-Caller-ID-Number', 'Caller-Orig-Caller-ID-Name', 'Caller-Orig-Caller-ID-Number', 'Caller-Network-Addr',
  'Caller-ANI', 'Caller-Destination-Number', 'Caller-Unique-ID', 'Caller-Source', 'Caller-Context', 'Caller-Channel-Name',
  'Caller-Profile-Index', 'Caller-Profile-Created-Time', 'Caller-Channel-Created-Time', 'Caller-Channel-Answered-Time',
  'Caller-Channel-Progress-Time', 'Caller-Channel-Progress-Media-Time', 'Caller-Channel-Hangup-Time',
  'Caller-Channel-Transfer-Time', 'Caller-Channel-Resurrect-Time', 'Caller-Channel-Bridged-Time',
  'Caller-Channel-Last-Hold', 'Caller-Channel-Hold-Accum', 'Caller-Screen-Bit', 'Caller-Privacy-Hide-Name',
  'Caller-Privacy-Hide-Number', 'Hangup-Cause', 'Media-Bug-Function', 'Media-Bug-Target',
  'variable_direction', 'variable_uuid', 'variable_call_uuid', 'variable_sip_from_user', 'variable_sip_to_user',
  'variable_sip_req_user', 'variable_sip_from_host', 'variable_sip_network_ip', 'variable_sip_via_protocol',
  'variable_read_codec', 'variable_read_rate', 'variable_write_codec', 'variable_write_rate',
  'variable_original_read_codec', 'variable_original_read_rate', 'variable_current_application',
  'variable_endpoint_disposition', 'variable_dtmf_type', 'variable_rtp_use_codec_name', 'variable_rtp_use_codec_rate',
  'variable_rtp_use_codec_ptime', 'variable_rtp_use_codec_channels', 'variable_rtp_audio_recv_pt', 'variable_rtp_use_pt',
  'variable_audio_media_flow', 'variable_remote_audio_media_flow', 'variable_local_media_ip', 'variable_remote_media_ip',
  'variable_sip_from_display', 'variable_max_forwards',
]);
/** Headers whose value is a time in microseconds: compared as zero or not. */
const TIME_HEADERS = /-Time$|^Caller-Channel-(Last-Hold|Hold-Accum)$|_stamp$/;

export interface NormalEvent {
  event: string;
  /** Header names in order. */
  names: string[];
  /** Normalised values of VALUE_HEADERS and the channel variables STREAM_*. */
  values: Record<string, string>;
  body: string;
}

/** A run of messages: one text, or consecutive binary messages of the same size. */
export type MessageRun = { text: string } | { binary: number; count: number };

export interface NormalConnection {
  path: string;
  /** Upgrade request headers: name (lower case) -> normalised value, and the names in order as sent. */
  upgrade: Record<string, string>;
  upgradeOrder: string[];
  runs: MessageRun[];
  close: { code: number; reason: string } | null;
  /** Whether the client sent pings (heartbeat). */
  pinged: boolean;
  /**
   * The audio sent, per channel (stereo: left = read, right = write): base64 of EXCERPT_SAMPLES
   * int16 LE samples from `excerptFrom`, or '' when there were not that many.
   */
  audio?: { totalSamples: number; excerptFrom: number; excerpts: string[] };
  /** Every sample sent, per channel (a run's own transcript only; never written to a golden file). */
  pcm?: Int16Array[];
}

export interface Transcript {
  version: number;
  scenario: string;
  about: string;
  /** Rate of the audio compared, when the scenario compares audio. */
  audioRateHz?: number;
  replies: Array<{ command: string; reply: string }>;
  events: NormalEvent[];
  connections: NormalConnection[];
}

/** Samples per channel kept in a golden excerpt. */
export const EXCERPT_SAMPLES = 3200;
/** Where the excerpt starts: after the resampler's start-up and before any stop. */
const EXCERPT_FROM_MS = 300;

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

/** Placeholders for what differs between two runs of the same scenario. */
export function normaliseText(text: string, uuid: string, tempDir: string): string {
  let out = text;
  if (uuid) out = out.replaceAll(uuid, '<uuid>');
  out = out.replace(UUID, '<other-uuid>');
  if (tempDir) out = out.replaceAll(tempDir, '<tmp>');
  // Play files: whatever the temp dir, `<tmp>/<uuid>_<n>.tmp<ext>`.
  out = out.replace(/"file":"[^"]*\/(<uuid>_\d+\.tmp[^"]*)"/g, '"file":"<tmp>/$1"');
  out = out.replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:<port>');
  return out;
}

function normaliseValue(name: string, value: string, uuid: string, tempDir: string): string {
  if (TIME_HEADERS.test(name)) return value === '0' ? '0' : '<time>';
  if (name === 'Channel-Name' || name === 'Caller-Channel-Name') {
    // sofia/<profile>/<user>@<host>:<port>: the profile name is the deployment's.
    return normaliseText(value.replace(/^sofia\/[^/]+\//, 'sofia/<profile>/'), uuid, tempDir);
  }
  return normaliseText(value, uuid, tempDir);
}

function runsOf(messages: RawTranscript['connections'][number]['messages']): MessageRun[] {
  const runs: MessageRun[] = [];
  for (const m of messages) {
    const last = runs.at(-1);
    if (m.kind === 'text') runs.push({ text: m.text });
    else if (last && 'binary' in last && last.binary === m.data.length) last.count++;
    else runs.push({ binary: m.data.length, count: 1 });
  }
  return runs;
}

/** The transcript as written to a golden file (without the full audio). */
export function forGolden(t: Transcript): Transcript {
  return { ...t, connections: t.connections.map(({ pcm: _pcm, ...c }) => c) };
}

/** Normalises a raw transcript; `streamRate` and `channels` locate the audio excerpt. */
export function normalise(raw: RawTranscript, scenario: Scenario): Transcript {
  const uuid = raw.uuid;
  const tempDir = raw.tempDir;
  const audio = scenario.audio;
  const events: NormalEvent[] = raw.events.map((e) => {
    const get = (n: string) => e.headers.find(([k]) => k === n)?.[1];
    const values: Record<string, string> = {};
    for (const [k, v] of e.headers) {
      if (VALUE_HEADERS.has(k) || k.startsWith('variable_STREAM_')) values[k] = normaliseValue(k, v, uuid, tempDir);
    }
    return {
      event: get('Event-Subclass') ?? get('Event-Name') ?? '?',
      names: e.headers.map(([k]) => k).filter((k) => k !== 'Content-Length'),
      values,
      body: normaliseText(e.body, uuid, tempDir),
    };
  });
  const connections: NormalConnection[] = raw.connections.map((c) => {
    const upgrade: Record<string, string> = {};
    for (const [k, v] of c.headers) {
      const name = k.toLowerCase();
      upgrade[name] = name === 'sec-websocket-key' ? '<key>' : normaliseText(v, uuid, tempDir);
    }
    const conn: NormalConnection = {
      path: normaliseText(c.path, uuid, tempDir), upgrade, upgradeOrder: c.headers.map(([k]) => k.toLowerCase()),
      runs: runsOf(c.messages), close: c.close, pinged: c.pings > 0,
    };
    if (audio) {
      const bytes = Buffer.concat(c.messages.filter((m) => m.kind === 'binary').map((m) => (m as { data: Buffer }).data));
      const all = new Int16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + (bytes.length & ~1)));
      const perChannel = Math.floor(all.length / audio.channels);
      conn.pcm = Array.from({ length: audio.channels }, (_, ch) => {
        const out = new Int16Array(perChannel);
        for (let i = 0; i < perChannel; i++) out[i] = all[i * audio.channels + ch]!;
        return out;
      });
      const from = Math.round((EXCERPT_FROM_MS * audio.rateHz) / 1000);
      conn.audio = {
        totalSamples: perChannel, excerptFrom: from,
        excerpts: conn.pcm.map((p) => (p.length >= from + EXCERPT_SAMPLES
          ? Buffer.from(p.buffer, p.byteOffset + from * 2, EXCERPT_SAMPLES * 2).toString('base64') : '')),
      };
    }
    return conn;
  });
  return {
    version: TRANSCRIPT_VERSION, scenario: scenario.name, about: scenario.about, audioRateHz: audio?.rateHz,
    replies: raw.replies.map((r) => ({ command: r.command, reply: normaliseText(r.reply, uuid, tempDir) })),
    events, connections,
  };
}
