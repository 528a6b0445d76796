import type { Core } from '../core.ts';
import type { Channel } from '../channel/channel.ts';
import { executeApplication } from '../dialplan/applications.ts';

/**
 * The channel variable FreeSWITCH's switch_ivr_parse_event sets from a sendmsg's `Event-UUID` before
 * running the application; the application's CHANNEL_EXECUTE(_COMPLETE) events carry it as
 * `Application-UUID`, which is how ESL clients (modesl `execute`, esl-lite `command_uuid`) match the
 * completion to their request.
 */
export const APP_UUID_VARIABLE = 'app_uuid';

interface ChannelQueue {
  tail: Promise<void>;
  /** Bumped by `uuid_break all`: applications queued before it are dropped. */
  generation: number;
}

const queues = new WeakMap<Channel, ChannelQueue>();

function queueOf(channel: Channel): ChannelQueue {
  let q = queues.get(channel);
  if (!q) {
    q = { tail: Promise.resolve(), generation: 0 };
    queues.set(channel, q);
  }
  return q;
}

/** Options of a queued application. */
export interface QueuedApplicationOptions {
  /** Becomes the Application-UUID of its CHANNEL_EXECUTE events (sendmsg `Event-UUID`). */
  applicationUuid?: string;
  /** Runs it this many times (sendmsg `loops`, default 1). */
  loops?: number;
}

/** Result of an application that was dropped by `uuid_break all` or a hangup before it ran. */
export const FLUSHED = '-ERR flushed';

/**
 * Queues an application on a channel, as FreeSWITCH queues the private events of `sendmsg` and
 * `uuid_broadcast`: they run one after another, each after the previous has finished. `park` does
 * not hold the queue (FreeSWITCH runs later applications from inside the park loop). Resolves with
 * the application's response.
 */
export function queueApplication(core: Core, channel: Channel, app: string, data: string, options: QueuedApplicationOptions = {}): Promise<string> {
  const q = queueOf(channel);
  const generation = q.generation;
  const loops = Math.max(1, Math.min(options.loops ?? 1, 1000));
  const run = async (): Promise<string> => {
    let response = FLUSHED;
    for (let i = 0; i < loops; i++) {
      if (q.generation !== generation || channel.isHungUp) return response;
      response = await runApplication(core, channel, app, data, options.applicationUuid);
    }
    return response;
  };
  const previous = q.tail;
  const result = previous.then(run);
  q.tail = app === 'park' ? previous.then(() => undefined) : result.then(() => undefined, () => undefined);
  return result;
}

function runApplication(core: Core, channel: Channel, app: string, data: string, applicationUuid: string | undefined): Promise<string> {
  if (applicationUuid === undefined) return executeApplication(core, channel, app, data);
  // executeApplication reads its Application-UUID before its first await, so the variable only
  // needs to be there for the synchronous part of the call.
  channel.setVariable(APP_UUID_VARIABLE, applicationUuid);
  try {
    return executeApplication(core, channel, app, data);
  } finally {
    channel.setVariable(APP_UUID_VARIABLE, undefined);
  }
}

/** `uuid_break all`: drops every application queued and not yet started. */
export function flushQueuedApplications(channel: Channel): void {
  queueOf(channel).generation++;
}
