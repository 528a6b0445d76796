// Starting an Event Socket server on an ephemeral port and driving the real npm clients
// (modesl 1.2.1, esl-lite 3.2.0) against it with promises.
import esl, { type Connection, type Event as EslEvent } from 'modesl';
import { FreeSwitchClient } from 'esl-lite';
import { Runtime } from '../../src/service/runtime.ts';
import { EslServer, type EslServerOptions } from '../../src/esl/server.ts';

/** A running server and its runtime. */
export interface EslFixture {
  runtime: Runtime;
  server: EslServer;
  port: number;
  close(): Promise<void>;
}

/** Starts an EslServer on 127.0.0.1 with an ephemeral port. */
export async function startEsl(options: Partial<EslServerOptions> & { runtime?: Runtime } = {}): Promise<EslFixture> {
  const runtime = options.runtime ?? new Runtime();
  const server = new EslServer(runtime.esl, {
    listen: options.listen ?? { host: '127.0.0.1', port: 0 },
    password: options.password ?? 'ClueCon',
    acl: options.acl ?? ['127.0.0.0/8', '::1/128'],
    limits: options.limits,
  });
  await server.start();
  return { runtime, server, port: server.address.port, close: () => server.close() };
}

/** A modesl inbound connection, resolved once authenticated (rejects on a refused password). */
export function modeslConnect(port: number, password = 'ClueCon'): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const conn: Connection = new esl.Connection('127.0.0.1', port, password, () => resolve(conn));
    conn.on('esl::event::auth::fail', () => reject(new Error('auth failed')));
    conn.on('error', reject);
  });
}

/** modesl `api` as a promise of the api/response body. */
export function modeslApi(conn: Connection, command: string, args = ''): Promise<string> {
  return new Promise((resolve) => conn.api(command, args, (e: EslEvent) => resolve(e.getBody())));
}

/** modesl: the next event with this name (and, for CUSTOM, subclass) received, within `timeoutMs`. */
export function modeslNextEvent(conn: Connection, name: string, subclass?: string, timeoutMs = 3000): Promise<EslEvent> {
  return new Promise((resolve, reject) => {
    const onEvent = (e: EslEvent): void => {
      if (e.getHeader('Event-Name') !== name) return;
      if (subclass !== undefined && e.getHeader('Event-Subclass') !== subclass) return;
      clearTimeout(timer);
      conn.off('esl::event::**', onEvent);
      resolve(e);
    };
    const timer = setTimeout(() => {
      conn.off('esl::event::**', onEvent);
      reject(new Error(`no ${name} ${subclass ?? ''} event within ${timeoutMs} ms`));
    }, timeoutMs);
    conn.on('esl::event::**', onEvent);
  });
}

/** Closes a modesl connection and waits for the socket to end. */
export function modeslClose(conn: Connection): Promise<void> {
  return new Promise((resolve) => {
    const socket = conn.socket;
    if (!socket || socket.destroyed) return resolve();
    socket.once('close', () => resolve());
    conn.disconnect();
  });
}

/** A pino-like logger that drops everything (esl-lite requires one). */
export const quietLogger = {
  level: 'silent',
  trace: () => undefined, debug: () => undefined, info: () => undefined,
  warn: () => undefined, error: () => undefined, fatal: () => undefined,
  child() { return quietLogger; },
};

/** An esl-lite client (it connects and re-connects by itself; call end()). */
export function eslLiteClient(port: number, password = 'ClueCon'): FreeSwitchClient {
  return new FreeSwitchClient({ host: '127.0.0.1', port, password, logger: quietLogger as never });
}
