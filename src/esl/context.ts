import type { EventBus } from '../events/bus.ts';
import type { ChannelRegistry } from '../channel/registry.ts';
import type { ApplicationQueue } from '../dialplan/dialplan.ts';
import type { ApiRegistry } from '../api/commands.ts';
import type { EslHub } from './hub.ts';
import type { CallCommand } from './sendmsg.ts';

/** A call that lives in a media worker, controlled from the main thread's connection (`myevents <uuid>`). */
export interface RemoteSession {
  readonly remote: true;
  readonly uuid: string;
  readonly name: string;
  /** True once its CHANNEL_HANGUP has passed (or its worker died). */
  readonly isHungUp: boolean;
}

/** The calls of the media workers, as Event Socket commands reach them (`sendmsg <uuid>`, `myevents <uuid>`). */
export interface EslRemoteChannels {
  /** The call with this uuid, when a worker has it. */
  session(uuid: string): RemoteSession | undefined;
  /** Runs a call command on the worker that has the call; undefined when none has it. */
  callCommand(uuid: string, command: CallCommand): Promise<string | undefined>;
  /** A variable of a worker's call (`getvar` of a connection bound by `myevents`). */
  getVariable(uuid: string, name: string): Promise<string | undefined>;
}

/** What Event Socket connections (inbound and outbound) work on. */
export interface EslContext {
  bus: EventBus;
  channels: ChannelRegistry;
  /** `api` and `bgapi` (in a media worker: carried to the main thread's commands). */
  api: Pick<ApiRegistry, 'execute' | 'executeConsole'>;
  /** The calls of other threads: the media workers' on the main thread, the other workers' in a worker. */
  remote?: EslRemoteChannels;
  /** `sendmsg execute`. */
  applications: ApplicationQueue;
  /** The one event and log fan-out of every connection. */
  hub: EslHub;
}
