import type { Channel } from './channel.ts';

/** Live channels by uuid (FreeSWITCH's session hash). */
export class ChannelRegistry {
  private readonly channels = new Map<string, Channel>();

  /** Adds a channel; its uuid must be new. */
  add(channel: Channel): void {
    if (this.channels.has(channel.uuid)) throw new Error(`channel ${channel.uuid} exists`);
    this.channels.set(channel.uuid, channel);
  }

  /** Forgets a channel (on destroy). */
  remove(channel: Channel): void {
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
