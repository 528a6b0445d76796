import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Result } from '../lib/errors.ts';

/** A host and port to listen on. */
export interface ListenAddress {
  host: string;
  port: number;
}

/** One action of a route: a FreeSWITCH dialplan application and its data. */
export interface RouteAction {
  app: string;
  data: string;
}

/**
 * Checks a route action against the applications the service has (their names and data rules):
 * given by the dialplan's ApplicationRegistry; the error's message is put after the action's key.
 */
export type ActionCheck = (app: string, data: string) => Result<void>;

/** A route: all given patterns must match (destination, caller, headers); first matching route wins. */
export interface Route {
  destination?: RegExp;
  caller?: RegExp;
  headers: Array<{ name: string; pattern: RegExp }>;
  actions: RouteAction[];
}

/** Bounds on the connections of one TCP listener: in total and per source address. */
export interface ConnectionLimits {
  maxConnections: number;
  maxConnectionsPerSource: number;
}

/** The whole configuration, after defaults and validation. */
export interface Config {
  sip: {
    listen: ListenAddress;
    advertisedAddress: string;
    /** Most channels at once (FreeSWITCH's max-sessions); an INVITE over it is answered 503 with Retry-After. */
    maxSessions: number;
    /** New calls admitted per second, all sources together (FreeSWITCH's sessions-per-second); over it 503 with Retry-After. */
    sessionsPerSecond: number;
    /** New calls admitted per second from one source address (checked before sessionsPerSecond, so one source cannot use it all). */
    invitesPerSourcePerSecond: number;
    /** Calls from one source address not yet confirmed (no ACK for our 2xx, or still ringing/early) at once. */
    maxPendingPerSource: number;
    /** SIP over TCP: connection bounds, and how long a connection may take to send a message's headers once it started one. */
    tcp: ConnectionLimits & { headerTimeoutMs: number };
  };
  rtp: { address: string; portMin: number; portMax: number; timeoutSec: number };
  esl: ConnectionLimits & {
    listen: ListenAddress; password: string; acl: string[];
    /** Bytes of events and logs waiting for one client that does not read; over it the client is dropped at once. */
    maxQueueBytes: number;
  };
  http: ConnectionLimits & {
    listen: ListenAddress; token: string | undefined;
    /** Host header names accepted besides the listen address, localhost and loopback addresses (DNS rebinding). */
    allowedHosts: string[];
    /** Origins (scheme://host[:port]) allowed to call the API from a browser; any other Origin is refused 403. */
    allowedOrigins: string[];
    /** Bytes of events waiting for one live event stream (SSE) client that does not read; over it the client is dropped. */
    maxQueueBytes: number;
  };
  tempDir: string;
  /** Bytes of play files allowed in tempDir, all streams together, in MiB. */
  tempDirBudgetMb: number;
  /** Bytes of play files allowed for one stream, in MiB. */
  tempDirStreamBudgetMb: number;
  /** Directories files may be played from (playback, uuid_broadcast); relative names are resolved against them in order. */
  sounds: { dirs: string[] };
  /** mod_audio_stream: largest text message of a server passed on as a `json` event body, in bytes; larger ones are dropped with an error log. */
  stream: { maxJsonEventBytes: number };
  log: { level: 'error' | 'warning' | 'notice' | 'info' | 'debug' };
  /**
   * Media workers (threads) that run the calls' media, streams and dialplan; `auto` is one per core.
   * Default 0 for now: everything on the main thread, as before workers.
   */
  media: { workers: number };
  routes: Route[];
}

/** FreeSWITCH's sound directories of its Debian packages and of a source install: prompts users already keep there. */
export const DEFAULT_SOUND_DIRS = ['/usr/share/freeswitch/sounds', '/usr/local/freeswitch/sounds'];

/** The route used when the configuration has none: answer and park, so an ESL application can take over. */
export const DEFAULT_ROUTE: Route = { headers: [], actions: [{ app: 'answer', data: '' }, { app: 'park', data: '' }] };

/** Embedded defaults (`npm start` with no config file). */
export function defaultConfig(): Config {
  return {
    sip: {
      listen: { host: '127.0.0.1', port: 5060 }, advertisedAddress: '127.0.0.1',
      maxSessions: 1000, sessionsPerSecond: 200, invitesPerSourcePerSecond: 50, maxPendingPerSource: 100,
      tcp: { maxConnections: 2000, maxConnectionsPerSource: 500, headerTimeoutMs: 5000 },
    },
    rtp: { address: '127.0.0.1', portMin: 16384, portMax: 32767, timeoutSec: 60 },
    esl: {
      listen: { host: '127.0.0.1', port: 8021 }, password: 'ClueCon', acl: ['127.0.0.0/8', '::1/128'],
      maxConnections: 500, maxConnectionsPerSource: 250, maxQueueBytes: 4 << 20,
    },
    http: {
      listen: { host: '127.0.0.1', port: 8080 }, token: undefined, allowedHosts: [], allowedOrigins: [],
      maxConnections: 500, maxConnectionsPerSource: 250, maxQueueBytes: 4 << 20,
    },
    tempDir: join(tmpdir(), 'audio-stream'),
    tempDirBudgetMb: 1024,
    tempDirStreamBudgetMb: 256,
    sounds: { dirs: [...DEFAULT_SOUND_DIRS] },
    stream: { maxJsonEventBytes: 1 << 20 },
    log: { level: 'info' },
    media: { workers: 0 },
    routes: [DEFAULT_ROUTE],
  };
}
