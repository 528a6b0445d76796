import type { EventBus } from '../events/bus.ts';
import type { ChannelRegistry } from '../channel/registry.ts';
import type { ApplicationQueue } from '../dialplan/dialplan.ts';
import type { ApiRegistry } from '../api/commands.ts';
import type { EslHub } from './hub.ts';

/** What Event Socket connections (inbound and outbound) work on. */
export interface EslContext {
  bus: EventBus;
  channels: ChannelRegistry;
  /** `api` and `bgapi`. */
  api: ApiRegistry;
  /** `sendmsg execute`. */
  applications: ApplicationQueue;
  /** The one event and log fan-out of every connection. */
  hub: EslHub;
}
