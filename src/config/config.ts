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

/** The whole configuration, after defaults and validation. */
export interface Config {
  sip: { listen: ListenAddress; advertisedAddress: string };
  rtp: { address: string; portMin: number; portMax: number; timeoutSec: number };
  esl: { listen: ListenAddress; password: string; acl: string[] };
  http: { listen: ListenAddress; token: string | undefined };
  tempDir: string;
  log: { level: 'error' | 'warning' | 'notice' | 'info' | 'debug' };
  routes: Route[];
}

/** The route used when the configuration has none: answer and park, so an ESL application can take over. */
export const DEFAULT_ROUTE: Route = { headers: [], actions: [{ app: 'answer', data: '' }, { app: 'park', data: '' }] };

/** Embedded defaults (`npm start` with no config file). */
export function defaultConfig(): Config {
  return {
    sip: { listen: { host: '127.0.0.1', port: 5060 }, advertisedAddress: '127.0.0.1' },
    rtp: { address: '127.0.0.1', portMin: 16384, portMax: 32767, timeoutSec: 60 },
    esl: { listen: { host: '127.0.0.1', port: 8021 }, password: 'ClueCon', acl: ['127.0.0.0/8', '::1/128'] },
    http: { listen: { host: '127.0.0.1', port: 8080 }, token: undefined },
    tempDir: join(tmpdir(), 'audio-stream'),
    log: { level: 'info' },
    routes: [DEFAULT_ROUTE],
  };
}
