import type { EventBus } from '../events/bus.ts';
import { FailureLog } from '../lib/failure-log.ts';
import { Logger } from '../lib/logger.ts';
import { Channel, type CallerProfile, type ChannelCodec, type ChannelEndpoint, type ChannelHost } from './channel.ts';

/** Looking a live channel up by uuid: all most commands need of the registry. */
export interface ChannelLookup {
  get(uuid: string): Channel | undefined;
}

/**
 * Live channels by uuid (FreeSWITCH's session hash), and where channels are made: a new channel is
 * registered and announced (CHANNEL_STATE CS_INIT, CHANNEL_CREATE) on the bus, and forgotten once
 * destroyed.
 */
export class ChannelRegistry implements ChannelHost, ChannelLookup {
  private readonly channels = new Map<string, Channel>();
  /** Channels made so far: the next one's session_id (switch_core_session_request's session counter). */
  private sessions = 0;
  /** Hangup steps that threw (an endpoint, a media bug): counted and logged once per cause. */
  readonly failures = new FailureLog(new Logger('channel'), 'a hangup step');

  /** `bus` receives every event of the channels made here. */
  constructor(readonly bus: EventBus) {}

  /**
   * Creates, registers and announces (CHANNEL_CREATE) a channel; its uuid (random by default) must be
   * new. `init` sets the endpoint's variables before the channel is announced, in their order.
   */
  create(endpoint: ChannelEndpoint, name: string, codec: ChannelCodec, caller: Partial<CallerProfile>, uuid?: string,
    init?: (channel: Channel) => void): Channel {
    const profile: CallerProfile = {
      callerIdName: caller.callerIdName ?? '',
      callerIdNumber: caller.callerIdNumber ?? '',
      destinationNumber: caller.destinationNumber ?? '',
      networkAddr: caller.networkAddr ?? '',
      source: caller.source ?? 'audio-stream',
      context: caller.context ?? 'default',
      dialplan: caller.dialplan ?? 'XML',
      username: caller.username ?? '',
      screenBit: caller.screenBit ?? true,
      privacyHideName: caller.privacyHideName ?? false,
      privacyHideNumber: caller.privacyHideNumber ?? false,
    };
    if (uuid !== undefined && this.channels.has(uuid)) throw new RangeError(`channel ${uuid} exists`);
    const channel = new Channel(this, endpoint, name, codec, profile, 'inbound', uuid, ++this.sessions, init);
    if (this.channels.has(channel.uuid)) throw new RangeError(`channel ${channel.uuid} exists`);
    this.channels.set(channel.uuid, channel);
    channel.announce();
    return channel;
  }

  /** ChannelHost: a destroyed channel leaves the registry. */
  onDestroy(channel: Channel): void {
    if (this.channels.get(channel.uuid) === channel) this.channels.delete(channel.uuid);
  }

  /** The live channel with this uuid (switch_core_session_locate). */
  get(uuid: string): Channel | undefined {
    return this.channels.get(uuid);
  }

  /** Number of live channels. */
  get size(): number {
    return this.channels.size;
  }

  /** Live channels in creation order. */
  [Symbol.iterator](): IterableIterator<Channel> {
    return this.channels.values();
  }
}
