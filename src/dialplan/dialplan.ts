import type { Core } from '../core.ts';
import type { Channel } from '../channel/channel.ts';
import type { Route } from '../config/config.ts';
import { executeApplication } from './applications.ts';
import { Logger } from '../lib/logger.ts';

const log = new Logger('dialplan');

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

/** Runs a route's actions in order until the end, a park that ends with the call, or hangup. */
export async function executeRoute(core: Core, channel: Channel, route: Route): Promise<void> {
  channel.setState('CS_ROUTING');
  channel.setState('CS_EXECUTE');
  for (const action of route.actions) {
    if (channel.isHungUp) return;
    const response = await executeApplication(core, channel, action.app, action.data);
    if (response.startsWith('-ERR')) log.warning(`${channel.uuid}: ${action.app} ${action.data}: ${response}`);
  }
  // As FreeSWITCH: a dialplan that runs out of applications hangs the call up.
  if (!channel.isHungUp) channel.hangup('NORMAL_CLEARING');
}
