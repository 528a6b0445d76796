// Outbound Event Socket: the `socket` application (mod_event_socket.c socket_function). The call
// connects to the application's server, which sends `connect` and gets the channel data, then
// controls the call with the same commands as an inbound connection (myevents, linger, sendmsg
// without a uuid; with `full` also api, bgapi, event, ...).
//
// When the socket closes and the call is still up: if the application sent `resume` (or the
// channel variable socket_resume is true) the `socket` application ends and the route goes on with
// its next action; otherwise the call is hung up with NORMAL_CLEARING, which is what a FreeSWITCH
// user sees when the application disconnects without `resume` (the parked, socket-controlled call
// is released and hangs up).
import { connect, type Socket } from 'node:net';
import type { EslContext } from './context.ts';
import type { Application } from '../dialplan/application.ts';
import { fail, messageOf, ok } from '../lib/errors.ts';
import type { Channel } from '../channel/channel.ts';
import { Logger } from '../lib/logger.ts';
import { separateString } from '../lib/separate-string.ts';
import { switchTrue } from '../lib/switch-true.ts';
import { EslListener, type ListenerLimits } from './listener.ts';

const log = new Logger('esl');

/** FreeSWITCH's default port of the `socket` application. */
export const DEFAULT_SOCKET_PORT = 8084;
/** How long connecting to the application may take, in ms. */
export const SOCKET_CONNECT_TIMEOUT_MS = 10_000;

/** Where the `socket` application connects. */
export interface SocketTarget {
  host: string;
  port: number;
  /** The part after `/` (channel variable socket_path). */
  path: string | undefined;
}

/**
 * `host[:port][/path]` as socket_function reads it: the port follows the last colon (so an IPv6
 * address needs one: `::1:8084`), `[v6]:port` is accepted too; the default port is 8084.
 */
export function parseSocketTarget(text: string): SocketTarget {
  let rest = text.trim();
  let path: string | undefined;
  let host: string;
  let port = DEFAULT_SOCKET_PORT;
  const bracket = /^\[([^\]]+)\](?::(\d+))?(?:\/(.*))?$/.exec(rest);
  if (bracket) return { host: bracket[1]!, port: bracket[2] ? Number(bracket[2]) : port, path: bracket[3] };
  const colon = rest.lastIndexOf(':');
  if (colon >= 0) {
    host = rest.slice(0, colon);
    rest = rest.slice(colon + 1);
    const slash = rest.indexOf('/');
    if (slash >= 0) {
      path = rest.slice(slash + 1);
      rest = rest.slice(0, slash);
    }
    port = Number.parseInt(rest, 10) || 0;
  } else {
    const slash = rest.indexOf('/');
    host = slash >= 0 ? rest.slice(0, slash) : rest;
    if (slash >= 0) path = rest.slice(slash + 1);
  }
  return { host, port, path };
}

function openSocket(target: SocketTarget): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: target.host, port: target.port, allowHalfOpen: true, noDelay: true });
    const onError = (err: Error): void => {
      clearTimeout(timer);
      reject(err);
    };
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect timeout after ${SOCKET_CONNECT_TIMEOUT_MS} ms`));
    }, SOCKET_CONNECT_TIMEOUT_MS);
    socket.once('error', onError);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

/**
 * Hands a call to an outbound Event Socket application at `target` (`host:port`) with the socket
 * keywords in `flags` (`async`, `full`). Resolves when the connection has closed, after hanging the
 * call up unless the application asked to `resume`; rejects when the application cannot be reached.
 */
export async function connectOutbound(esl: EslContext, channel: Channel, target: string, flags: string,
  limits?: Partial<ListenerLimits>): Promise<void> {
  const t = parseSocketTarget(target);
  if (!t.host) throw new Error('Missing Host!');
  channel.setVariable('socket_host', t.host);
  if (t.path !== undefined) channel.setVariable('socket_path', t.path);
  const words = flags.toLowerCase().split(/\s+/);
  const asyncMode = words.includes('async');
  let socket: Socket;
  try {
    socket = await openSocket(t);
  } catch (err) {
    throw new Error(`Socket Error! cannot connect to ${t.host}:${t.port}: ${(err as Error).message}`);
  }
  socket.setKeepAlive(true, 30_000);
  const listener = new EslListener({ esl, socket, limits, outbound: { channel, async: asyncMode, full: words.includes('full') } });
  listener.start();
  if (asyncMode) {
    await Promise.race([listener.connectedPromise, channel.ended]);
    if (listener.connected && !channel.isHungUp) channel.park();
  }
  await listener.done;
  if (channel.isHungUp) return;
  if (listener.resume || switchTrue(channel.getVariable('socket_resume'))) {
    log.info(`${channel.name}: socket closed, resuming the route`);
    return;
  }
  channel.hangup('NORMAL_CLEARING');
}

/** What the `socket` application needs: the Event Socket its connections are part of. */
export interface SocketApplicationContext {
  esl: EslContext;
}

/**
 * The `socket` dialplan application: `<host:port> [async] [full]`. Resolves with `+OK` once the
 * socket session is over, or SOCKET_FAILED when the application could not be reached.
 */
export const SOCKET_APPLICATION: Application<SocketApplicationContext> = {
  name: 'socket',
  needsData: true,
  async run(channel, data, ctx) {
    const argv = separateString(data.trim(), 80);
    if (!argv[0]) {
      log.error(`${channel.name}: socket: Parse Error!`);
      return fail('INVALID_ARGUMENT', 'Parse Error!');
    }
    try {
      await connectOutbound(ctx.esl, channel, argv[0], argv.slice(1).join(' '));
      return ok('+OK');
    } catch (err) {
      log.error(`${channel.name}: socket ${argv[0]}: ${messageOf(err)}`);
      return fail('SOCKET_FAILED', messageOf(err));
    }
  },
};
