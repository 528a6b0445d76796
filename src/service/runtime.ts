// The composition root: the one place where audio-stream's parts are made and joined. Each part
// gets only what it uses, so no part reaches for a global: `audio-stream serve` (service.ts),
// `audio-stream stream`, the benchmarks and the tests all build their process from here.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock, type Clock } from '../lib/clock.ts';
import { CoarseTimer } from '../lib/coarse-timer.ts';
import { EventBus } from '../events/bus.ts';
import { ChannelRegistry } from '../channel/registry.ts';
import { MediaClock } from '../channel/media-clock.ts';
import { SoundDirectories } from '../channel/sound-files.ts';
import { AudioStreamEngine } from '../audio-stream/engine.ts';
import { ApplicationRegistry } from '../dialplan/application.ts';
import { BUILTIN_APPLICATIONS, type BuiltinContext } from '../dialplan/applications.ts';
import { Dialplan } from '../dialplan/dialplan.ts';
import { ApiRegistry, type ApiContext, type RemoteChannels } from '../api/commands.ts';
import { BUILTIN_COMMANDS } from '../api/builtin-commands.ts';
import { CoreStats } from '../api/core-stats.ts';
import { EslHub } from '../esl/hub.ts';
import type { EslContext } from '../esl/context.ts';
import { SOCKET_APPLICATION, type SocketApplicationContext } from '../esl/outbound.ts';

/** Default directory of play files: `<os tmp>/audio-stream`. */
export const DEFAULT_TEMP_DIR = join(tmpdir(), 'audio-stream');

/** What every dialplan application of the service may use. */
export type ServiceApplicationContext = BuiltinContext & SocketApplicationContext;

/** The applications of the service: the built-in ones and the Event Socket's `socket`. */
export function serviceApplications(): ApplicationRegistry<ServiceApplicationContext> {
  return new ApplicationRegistry<ServiceApplicationContext>([...BUILTIN_APPLICATIONS, SOCKET_APPLICATION]);
}

/** What a runtime is made with. */
export interface RuntimeOptions {
  /** Directory of play files (default DEFAULT_TEMP_DIR). */
  tempDir?: string;
  /** Time source of the media clock, the housekeeping ticker, stream deadlines and `sleep` (default: real time). */
  clock?: Clock;
  /** Bytes of play files allowed in tempDir and per stream (config tempDirBudgetMb, tempDirStreamBudgetMb). */
  playFileBudget?: { totalBytes: number; perStreamBytes: number };
  /**
   * Directories files may be played from (config sounds.dirs; relative names looked up in each, in
   * order), besides a stream's own play files. Without it (library use, tests, the stream CLI) any
   * path plays; `serve` always passes config.sounds.dirs.
   */
  soundDirs?: string[];
  /** Largest server text message passed on as a `json` event body (config stream.maxJsonEventBytes). */
  maxJsonEventBytes?: number;
  /** The Core-UUID and host name of its events (a media worker takes the main thread's). */
  identity?: { coreUuid: string; hostname: string };
  /** The media workers' channels, for the main thread's runtime of `serve` with media.workers. */
  remote?: RemoteChannels;
}

/**
 * The switch core of one process: channels and their events, the one media clock, the
 * mod_audio_stream engine, the dialplan, the API commands and the Event Socket's shared parts.
 */
export class Runtime {
  readonly clock: Clock;
  readonly mediaClock: MediaClock;
  /** The shared 100 ms housekeeping ticker (stream heartbeats). */
  readonly ticker: CoarseTimer;
  readonly bus: EventBus;
  readonly channels: ChannelRegistry;
  readonly streams: AudioStreamEngine;
  /** Counters behind `status` and `show channels`, from the start. */
  readonly stats: CoreStats;
  readonly dialplan: Dialplan<ServiceApplicationContext>;
  readonly api: ApiRegistry;
  /** What the API commands work on. */
  readonly apiContext: ApiContext;
  /** What Event Socket connections (inbound and outbound) work on. */
  readonly esl: EslContext;

  constructor(options: RuntimeOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.bus = new EventBus(options.identity);
    this.mediaClock = new MediaClock(this.clock);
    this.ticker = new CoarseTimer(this.clock);
    this.channels = new ChannelRegistry(this.bus);
    const { remote } = options;
    this.stats = new CoreStats(remote ? { get size() { return remote.size; } } : this.channels, this.bus);
    this.streams = new AudioStreamEngine({
      tempDir: options.tempDir ?? DEFAULT_TEMP_DIR, clock: this.clock, ticker: this.ticker,
      playFileBudget: options.playFileBudget, maxJsonEventBytes: options.maxJsonEventBytes,
    });
    // `socket` runs Event Socket connections whose `sendmsg` queues applications on the dialplan
    // that runs `socket`: one loop, closed here by giving the applications the Event Socket once made.
    const applicationContext: Omit<ServiceApplicationContext, 'esl'> & Partial<SocketApplicationContext> = {
      clock: this.clock, streams: this.streams, channels: this.channels,
      playFileAccess: options.soundDirs
        ? new SoundDirectories(options.soundDirs, (uuid, realPath) => this.streams.playFiles.holds(uuid, realPath))
        : undefined,
    };
    this.dialplan = new Dialplan(serviceApplications(), applicationContext as ServiceApplicationContext);
    this.apiContext = {
      channels: this.channels, bus: this.bus, streams: this.streams, applications: this.dialplan, stats: this.stats, remote,
    };
    this.api = new ApiRegistry(this.apiContext, BUILTIN_COMMANDS);
    this.esl = { bus: this.bus, channels: this.channels, api: this.api, applications: this.dialplan, hub: new EslHub(this.bus) };
    applicationContext.esl = this.esl;
  }
}
