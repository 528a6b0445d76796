import { str2cause, type HangupCause } from '../channel/hangup-cause.ts';
import { isStreamRate } from './url.ts';

/**
 * What to do with one text message from the server: a json event, a play file, or (full duplex,
 * acted on only with STREAM_PLAYBACK) a clear, a mark or a hangup.
 */
export type InboundAction =
  | { kind: 'json'; error?: string; /** the error is of a full-duplex message (logged only in full duplex) */ duplex?: true }
  | { kind: 'play'; extension: string; audio: Buffer; data: Record<string, unknown> }
  | { kind: 'clear' }
  | { kind: 'mark'; name: string }
  | { kind: 'hangup'; cause: HangupCause; afterPlayout: boolean };

/** cJSON_GetObjectItem: the first member whose name matches case-insensitively. */
export function getMember(obj: Record<string, unknown>, name: string): [string, unknown] | undefined {
  const lower = name.toLowerCase();
  for (const key of Object.keys(obj)) if (key.toLowerCase() === lower) return [key, obj[key]];
  return undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * File extension for a streamAudio type: `raw` at a multiple of 8000 is `.r8`..`.r64` (the module's
 * names), at 11025, 22050 or 44100 `.r11025`, `.r22050`, `.r44100`.
 */
export function extensionFor(type: string, sampleRate: unknown): string | { error: string } {
  switch (type) {
    case 'raw': {
      const rate = typeof sampleRate === 'number' ? Math.trunc(sampleRate) : NaN;
      if (isStreamRate(rate)) return rate % 8000 === 0 ? `.r${rate / 1000}` : `.r${rate}`;
      return { error: `unsupported sample rate: ${String(sampleRate)}` };
    }
    case 'wav': case 'mp3': case 'ogg': case 'pcmu': case 'pcma':
      return `.${type}`;
    default:
      return { error: `unsupported audio type: ${type}` };
  }
}

const BASE64 = /^[A-Za-z0-9+/_-]*[=.]{0,2}$/;

/** Decodes base64 in either alphabet, padding optional ('.' counts as padding); undefined if invalid. */
export function decodeBase64(text: string): Buffer | undefined {
  if (!BASE64.test(text)) return undefined;
  let end = text.length;
  while (end > 0 && (text[end - 1] === '=' || text[end - 1] === '.')) end--;
  if (end % 4 === 1) return undefined;
  if (text.length % 4 !== 0 && end !== text.length) return undefined;
  return Buffer.from(end === text.length ? text : text.slice(0, end), 'base64');
}

/**
 * Decides how mod_audio_stream handles a server text message: a well-formed `streamAudio` becomes a
 * play file; everything else (including a malformed streamAudio, with an error to log) a json event.
 */
export function interpretMessage(text: string): InboundAction {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return { kind: 'json' };
  }
  if (!isObject(msg)) return { kind: 'json' };
  const type = getMember(msg, 'type')?.[1];
  if (type === 'clearAudio') return { kind: 'clear' };
  if (type === 'mark') return markOf(msg);
  if (type === 'hangup') return hangupOf(msg);
  if (type !== 'streamAudio') return { kind: 'json' };
  const data = getMember(msg, 'data')?.[1];
  if (!isObject(data)) return { kind: 'json', error: 'no data in streamAudio' };
  const audioType = getMember(data, 'audioDataType')?.[1];
  if (typeof audioType !== 'string') return { kind: 'json', error: 'no audioDataType in streamAudio data' };
  const extension = extensionFor(audioType, getMember(data, 'sampleRate')?.[1]);
  if (typeof extension !== 'string') return { kind: 'json', error: extension.error };
  const audioMember = getMember(data, 'audioData');
  if (!audioMember || typeof audioMember[1] !== 'string') return { kind: 'json', error: 'no audioData string in streamAudio data' };
  const audio = decodeBase64(audioMember[1]);
  if (!audio) return { kind: 'json', error: 'base64 decode error: Input is not valid base64-encoded data.' };
  // fromEntries defines own properties: a member named __proto__ stays a member.
  const rest = Object.fromEntries(Object.entries(data).filter(([key]) => key !== audioMember[0]));
  return { kind: 'play', extension, audio, data: rest };
}

/** `{"type":"mark","data":{"name":"<text>"}}`; without a string name it is a json event with an error. */
function markOf(msg: Record<string, unknown>): InboundAction {
  const data = getMember(msg, 'data')?.[1];
  const name = isObject(data) ? getMember(data, 'name')?.[1] : undefined;
  if (typeof name !== 'string') return { kind: 'json', error: 'mark without a data.name string', duplex: true };
  return { kind: 'mark', name };
}

/** `{"type":"hangup","data":{"cause":"NORMAL_CLEARING","afterPlayout":true}}`: any FreeSWITCH cause (default NORMAL_CLEARING). */
function hangupOf(msg: Record<string, unknown>): InboundAction {
  const data = getMember(msg, 'data')?.[1];
  const d = isObject(data) ? data : {};
  const causeText = getMember(d, 'cause')?.[1];
  const cause = typeof causeText === 'string' || typeof causeText === 'number' ? str2cause(String(causeText)) : undefined;
  if (causeText !== undefined && cause === undefined) return { kind: 'json', error: `hangup with an unknown cause ${JSON.stringify(causeText)}`, duplex: true };
  return { kind: 'hangup', cause: cause ?? 'NORMAL_CLEARING', afterPlayout: getMember(d, 'afterPlayout')?.[1] === true };
}

/** The play event body: `data` without audioData, members in order, plus `file` last. */
export function playEventBody(data: Record<string, unknown>, file: string): string {
  const body = Object.fromEntries(Object.entries(data).filter(([key]) => key !== 'file'));
  body.file = file;
  return JSON.stringify(body);
}
