import type { Core } from '../core.ts';
import type { Channel } from '../channel/channel.ts';
import { isHangupCause } from '../channel/hangup-cause.ts';
import { uuidAudioStream } from '../audio-stream/command.ts';
import { Logger } from '../lib/logger.ts';
import { socketApplication } from '../esl/outbound.ts';

const log = new Logger('dialplan');

/** FreeSWITCH-style ${name} expansion from channel variables (unknown names expand to ''). */
export function expandVariables(channel: Channel, text: string): string {
  return text.replace(/\$\{([^}]+)\}/g, (_m, name: string) => channel.getVariable(name.trim()) ?? '');
}

/** Longest sleep, in ms (setTimeout's limit). */
const MAX_SLEEP_MS = 2 ** 31 - 1;

/** Applications a route or an ESL `sendmsg execute` can run. */
export const APPLICATIONS = ['set', 'answer', 'pre_answer', 'playback', 'audio_stream', 'park', 'hangup', 'sleep', 'socket'] as const;

/** Runs one application on a channel, firing CHANNEL_EXECUTE and CHANNEL_EXECUTE_COMPLETE; resolves with its response text. */
export async function executeApplication(core: Core, channel: Channel, app: string, rawData: string): Promise<string> {
  if (channel.isHungUp) return '-ERR channel hung up';
  const data = expandVariables(channel, rawData);
  // An ESL sendmsg's Event-UUID becomes the Application-UUID (modesl and esl-lite wait for it).
  const headers = { Application: app, 'Application-Data': data, 'Application-UUID': channel.getVariable('app_uuid') ?? crypto.randomUUID() };
  channel.fire('CHANNEL_EXECUTE', undefined, undefined, headers);
  let response: string;
  try {
    response = await run(core, channel, app, data);
  } catch (err) {
    response = `-ERR ${(err as Error).message}`;
  }
  if (!channel.isHungUp) channel.fire('CHANNEL_EXECUTE_COMPLETE', undefined, undefined, { ...headers, 'Application-Response': response });
  return response;
}

async function run(core: Core, channel: Channel, app: string, data: string): Promise<string> {
  switch (app) {
    case 'set': {
      const eq = data.indexOf('=');
      if (eq <= 0) return '-ERR set needs NAME=VALUE';
      channel.setVariable(data.slice(0, eq).trim(), data.slice(eq + 1));
      return '+OK';
    }
    case 'answer':
      return channel.answer() ? '+OK' : '-ERR cannot answer';
    case 'pre_answer':
      return channel.preAnswer() ? '+OK' : '-ERR cannot pre-answer';
    case 'playback': {
      if (!channel.preAnswer()) return '-ERR no media';
      const status = await channel.playback.enqueue(data);
      return status === 'done' ? 'FILE PLAYED' : status === 'break' ? 'PLAYBACK BREAK' : 'FILE NOT FOUND';
    }
    case 'audio_stream': {
      const reply = uuidAudioStream(core, `${channel.uuid} ${data}`).trim();
      if (!reply.startsWith('+OK')) log.error(`${channel.uuid}: audio_stream ${data}: ${reply}`);
      return reply;
    }
    case 'park':
      channel.park();
      await channel.ended;
      return '+OK';
    case 'hangup': {
      const cause = data.trim() || 'NORMAL_CLEARING';
      channel.hangup(isHangupCause(cause) ? cause : 'NORMAL_CLEARING');
      return '+OK';
    }
    case 'sleep': {
      const ms = Number(data);
      if (!Number.isInteger(ms) || ms < 0 || ms > MAX_SLEEP_MS) return `-ERR sleep needs milliseconds (0 to ${MAX_SLEEP_MS})`;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([new Promise((r) => { timer = setTimeout(r, ms); }), channel.ended]);
      clearTimeout(timer); // a hangup ends the sleep: no timer may outlive the call
      return '+OK';
    }
    case 'socket':
      return socketApplication(core, channel, data);
    default:
      return `-ERR unknown application ${app}`;
  }
}
