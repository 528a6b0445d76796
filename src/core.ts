import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventBus } from './events/bus.ts';
import { ChannelRegistry } from './channel/registry.ts';
import { Channel, type CallerProfile, type ChannelCodec, type ChannelEndpoint, type ChannelHost } from './channel/channel.ts';

/** Default directory of play files: `<os tmp>/audio-stream`. */
export const DEFAULT_TEMP_DIR = join(tmpdir(), 'audio-stream');

/** Process-wide settings of the core. */
export interface CoreOptions {
  /** Directory of play files. */
  tempDir: string;
}

/** The switch core: event bus, channel registry and shared settings. One per process (tests make their own). */
export class Core implements ChannelHost {
  readonly bus = new EventBus();
  readonly registry = new ChannelRegistry();
  readonly tempDir: string;

  constructor(options: Partial<CoreOptions> = {}) {
    this.tempDir = options.tempDir ?? DEFAULT_TEMP_DIR;
  }

  /** Creates, registers and announces (CHANNEL_CREATE) a channel. */
  createChannel(endpoint: ChannelEndpoint, name: string, codec: ChannelCodec, caller: Partial<CallerProfile>, uuid?: string): Channel {
    const profile: CallerProfile = {
      callerIdName: caller.callerIdName ?? '',
      callerIdNumber: caller.callerIdNumber ?? '',
      destinationNumber: caller.destinationNumber ?? '',
      networkAddr: caller.networkAddr ?? '',
      source: caller.source ?? 'audio-stream',
      context: caller.context ?? 'default',
      dialplan: caller.dialplan ?? 'XML',
      username: caller.username ?? '',
    };
    const channel = new Channel(this, endpoint, name, codec, profile, 'inbound', uuid);
    this.registry.add(channel);
    channel.fire('CHANNEL_CREATE');
    return channel;
  }

  /** ChannelHost: a destroyed channel leaves the registry. */
  onDestroy(channel: Channel): void {
    this.registry.remove(channel);
  }
}
