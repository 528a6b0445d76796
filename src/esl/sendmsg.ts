// `sendmsg` call commands (switch_ivr_parse_event): `execute` queues a dialplan application on the
// channel (execute-app-name, execute-app-arg or a text/plain body, loops, Event-UUID), `hangup`
// hangs it up with hangup-cause.
import type { Channel } from '../channel/channel.ts';
import { str2cause } from '../channel/hangup-cause.ts';
import { applicationResponse, type ApplicationQueue } from '../dialplan/dialplan.ts';
import { headerValue, type EslMessage } from './frame.ts';

/** A validated call command, ready to run. */
export type CallCommand =
  | { kind: 'execute'; app: string; arg: string; eventUuid: string | undefined; loops: number }
  | { kind: 'hangup'; cause: string | undefined };

/** Reads a sendmsg's call command; a string is the `-ERR` reply for a message that cannot run. */
export function parseCallCommand(msg: EslMessage): CallCommand | string {
  const command = (headerValue(msg, 'call-command') ?? '').trim().toLowerCase();
  if (command === 'hangup') return { kind: 'hangup', cause: headerValue(msg, 'hangup-cause') };
  if (command !== 'execute') return command ? `-ERR unsupported call-command ${command}` : '-ERR missing call-command';
  const app = headerValue(msg, 'execute-app-name')?.trim();
  if (!app) return '-ERR missing execute-app-name';
  let arg = headerValue(msg, 'execute-app-arg') ?? '';
  if (!arg && msg.body && (headerValue(msg, 'content-type') ?? '').toLowerCase() === 'text/plain') arg = msg.body.toString('utf8');
  const loopsText = headerValue(msg, 'loops');
  const loops = loopsText && /^\d+$/.test(loopsText.trim()) ? Number(loopsText.trim()) : 1;
  return { kind: 'execute', app, arg, eventUuid: headerValue(msg, 'event-uuid'), loops };
}

/** Runs a call command on a channel; resolves when it has finished (the application's response, `-ERR <message>` when it failed). */
export async function runCallCommand(applications: ApplicationQueue, channel: Channel, command: CallCommand): Promise<string> {
  if (command.kind === 'hangup') {
    channel.hangup((command.cause && str2cause(command.cause)) || 'NORMAL_CLEARING');
    return '+OK';
  }
  const result = await applications.queue(channel, command.app, command.arg, { applicationUuid: command.eventUuid, loops: command.loops });
  return applicationResponse(result);
}
