import { randomUUID } from 'node:crypto';
import type { Channel } from '../channel/channel.ts';
import { eventSite } from '../events/bus.ts';
import type { Route } from '../config/config.ts';
import { fail, messageOf, type Result } from '../lib/errors.ts';
import { Logger } from '../lib/logger.ts';
import type { ApplicationRegistry } from './application.ts';
import { redactForLog } from '../lib/redact.ts';

const log = new Logger('dialplan');

const SITE_EXECUTE = eventSite('dialplan.ts', 'Dialplan.execute');
const SITE_EXECUTE_COMPLETE = eventSite('dialplan.ts', 'Dialplan.execute');

/** The channel variable switch_ivr_parse_event sets from a sendmsg's `Event-UUID` while the application starts. */
export const APP_UUID_VARIABLE = 'app_uuid';

/** An application's result as its Application-Response: the response, `-USAGE: <syntax>` or `-ERR <message>`. */
export function applicationResponse(result: Result<string>): string {
  if (result.ok) return result.value;
  return result.error.code === 'USAGE' ? `-USAGE: ${result.error.message}` : `-ERR ${result.error.message}`;
}

/** What a route can match on. */
export interface CallInfo {
  destination: string;
  caller: string;
  /** A header of the INVITE by name (case-insensitive), or undefined. */
  header(name: string): string | undefined;
}

/** The first route whose patterns all match (routes without a match block match everything). */
export function findRoute(routes: readonly Route[], call: CallInfo): Route | undefined {
  return routes.find((r) =>
    (!r.destination || r.destination.test(call.destination)) &&
    (!r.caller || r.caller.test(call.caller)) &&
    r.headers.every((h) => { const v = call.header(h.name); return v !== undefined && h.pattern.test(v); }));
}

/** FreeSWITCH-style ${name} expansion from channel variables (unknown names expand to ''). */
export function expandVariables(channel: Channel, text: string): string {
  return text.replace(/\$\{([^}]+)\}/g, (_m, name: string) => channel.getVariable(name.trim()) ?? '');
}

/** Options of a queued application. */
export interface QueuedApplicationOptions {
  /**
   * Becomes the Application-UUID of its CHANNEL_EXECUTE events: a sendmsg's `Event-UUID`, as
   * switch_ivr_parse_event passes it on, which is how ESL clients (modesl `execute`, esl-lite
   * `command_uuid`) match the completion to their request.
   */
  applicationUuid?: string;
  /** Runs it this many times (sendmsg `loops`, default 1). */
  loops?: number;
}

interface ChannelQueue {
  tail: Promise<void>;
  /** Bumped by `uuid_break all`: applications queued before it are dropped. */
  generation: number;
}

/** Queueing applications on a channel: what `uuid_broadcast`, `uuid_break all` and `sendmsg` need. */
export interface ApplicationQueue {
  queue(channel: Channel, app: string, data: string, options?: QueuedApplicationOptions): Promise<Result<string>>;
  flush(channel: Channel): void;
}

/**
 * Runs dialplan applications on channels, as FreeSWITCH's core does: one at a time per channel,
 * each announced with CHANNEL_EXECUTE and CHANNEL_EXECUTE_COMPLETE; routes run their actions in
 * order, and `sendmsg` / `uuid_broadcast` queue behind what is running. `C` is what the
 * applications need (given to each run).
 */
export class Dialplan<C> implements ApplicationQueue {
  private readonly queues = new Map<Channel, ChannelQueue>();

  constructor(readonly applications: ApplicationRegistry<C>, private readonly context: C) {}

  /**
   * Runs one application now, firing CHANNEL_EXECUTE and CHANNEL_EXECUTE_COMPLETE (its
   * Application-Response: the application's response, or `-ERR <message>`); resolves with the result.
   */
  async execute(channel: Channel, appName: string, rawData: string, applicationUuid?: string): Promise<Result<string>> {
    if (channel.isHungUp) return fail('CHANNEL_HUNG_UP', 'channel hung up');
    const data = expandVariables(channel, rawData);
    const uuid = applicationUuid ?? randomUUID();
    channel.executing(appName, data);
    channel.fire('CHANNEL_EXECUTE', undefined, undefined, { Application: appName, 'Application-Data': data, 'Application-UUID': uuid }, SITE_EXECUTE);
    let result: Result<string>;
    const app = this.applications.get(appName);
    try {
      result = app ? await app.run(channel, data, this.context) : fail('UNKNOWN_APPLICATION', `unknown application ${appName}`);
    } catch (err) {
      log.error(`${channel.uuid}: ${appName} ${redactForLog(data)}: ${(err as Error).stack ?? messageOf(err)}`);
      result = fail('APPLICATION_FAILED', messageOf(err));
    }
    const response = applicationResponse(result);
    if (!channel.isHungUp) {
      channel.fire('CHANNEL_EXECUTE_COMPLETE', undefined, undefined,
        { Application: appName, 'Application-Data': data, 'Application-Response': response, 'Application-UUID': uuid }, SITE_EXECUTE_COMPLETE);
    }
    return result;
  }

  /**
   * Queues an application on a channel, as FreeSWITCH queues the private events of `sendmsg` and
   * `uuid_broadcast`: they run one after another, each after the previous has finished. `park` does
   * not hold the queue (FreeSWITCH runs later applications from inside the park loop). Resolves
   * with the application's result (CHANNEL_HUNG_UP when it was dropped before it ran).
   */
  queue(channel: Channel, app: string, data: string, options: QueuedApplicationOptions = {}): Promise<Result<string>> {
    const q = this.queueOf(channel);
    const generation = q.generation;
    const loops = Math.max(1, Math.min(options.loops ?? 1, 1000));
    const run = async (): Promise<Result<string>> => {
      let result: Result<string> = fail('CHANNEL_HUNG_UP', 'flushed');
      for (let i = 0; i < loops; i++) {
        if (q.generation !== generation || channel.isHungUp) return result;
        result = await this.executeAs(channel, app, data, options.applicationUuid);
      }
      return result;
    };
    const previous = q.tail;
    const result = previous.then(run);
    q.tail = app === 'park' ? previous.then(() => undefined) : result.then(() => undefined, () => undefined);
    return result;
  }

  /**
   * As switch_ivr_parse_event: with an Event-UUID, the channel variable app_uuid holds it while the
   * application starts (its ${app_uuid}, CHANNEL_EXECUTE and the events it fires at once carry it).
   * execute reads and fires all that before its first await, so the variable is unset right after.
   */
  private executeAs(channel: Channel, app: string, data: string, applicationUuid: string | undefined): Promise<Result<string>> {
    if (applicationUuid === undefined) return this.execute(channel, app, data);
    channel.setVariable(APP_UUID_VARIABLE, applicationUuid);
    try {
      return this.execute(channel, app, data, applicationUuid);
    } finally {
      channel.setVariable(APP_UUID_VARIABLE, undefined);
    }
  }

  /** `uuid_break all`: drops every application queued on the channel and not yet started. */
  flush(channel: Channel): void {
    this.queueOf(channel).generation++;
  }

  /** A new call: the first matching route runs; with none the call is refused (NO_ROUTE_DESTINATION, 404). */
  async routeCall(channel: Channel, routes: readonly Route[], call: CallInfo): Promise<void> {
    const route = findRoute(routes, call);
    if (!route) {
      log.notice(`no route for ${call.destination} from ${call.caller}`);
      channel.hangup('NO_ROUTE_DESTINATION');
      return;
    }
    await this.runRoute(channel, route);
  }

  /** Runs a route's actions in order until the end, a park that ends with the call, or hangup. */
  async runRoute(channel: Channel, route: Route): Promise<void> {
    channel.setState('CS_ROUTING');
    channel.setState('CS_EXECUTE');
    for (const action of route.actions) {
      if (channel.isHungUp) return;
      const result = await this.execute(channel, action.app, action.data);
      if (!result.ok) log.warning(`${channel.uuid}: ${action.app} ${redactForLog(action.data)}: ${applicationResponse(result)}`);
    }
    // As FreeSWITCH: a dialplan that runs out of applications hangs the call up.
    if (!channel.isHungUp) channel.hangup('NORMAL_CLEARING');
  }

  private queueOf(channel: Channel): ChannelQueue {
    let q = this.queues.get(channel);
    if (!q) {
      q = { tail: Promise.resolve(), generation: 0 };
      this.queues.set(channel, q);
      void channel.ended.then(() => this.queues.delete(channel));
    }
    return q;
  }
}
