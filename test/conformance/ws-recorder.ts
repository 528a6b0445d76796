// The application's WebSocket server as the conformance suite sees it: it records the upgrade
// request, every message in order and the close it receives, and can misbehave on purpose
// (refuse, never answer the upgrade, answer it with HTTP 400).
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

/** How the server answers the upgrade. */
export type UpgradeBehaviour = 'accept' | 'no-answer' | 'http400';

/** One message the server received. */
export type RecordedMessage = { kind: 'text'; text: string } | { kind: 'binary'; data: Buffer };

/** One connection the server received. */
export interface RecordedConnection {
  /** Request line target (path and query). */
  path: string;
  /** Header names as sent (in order) with their values. */
  headers: Array<[string, string]>;
  messages: RecordedMessage[];
  /** The close frame received (code, reason), or null when the TCP connection ended without one. */
  close: { code: number; reason: string } | null;
  /** Pings received (answered by ws). */
  pings: number;
  /** Resolves when the connection is gone. */
  ended: Promise<void>;
  socket: WebSocket | undefined;
}

export interface WsRecorder {
  port: number;
  connections: RecordedConnection[];
  behaviour: UpgradeBehaviour;
  /** Resolves with the n-th connection (1-based), once its upgrade request arrived. */
  connection(n: number, timeoutMs?: number): Promise<RecordedConnection>;
  close(): Promise<void>;
}

/** Bound of what one conformance run keeps (a few seconds of audio per connection). */
const MAX_KEPT_BYTES = 16 << 20;

export async function startWsRecorder(behaviour: UpgradeBehaviour = 'accept'): Promise<WsRecorder> {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 16 << 20 });
  const server: Server = createServer((_req, res) => { res.writeHead(426).end(); });
  const connections: RecordedConnection[] = [];
  const waiters: Array<() => boolean> = [];
  const held: Socket[] = [];
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const headers: Array<[string, string]> = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i]!, req.rawHeaders[i + 1]!]);
    let resolveEnded!: () => void;
    const conn: RecordedConnection = {
      path: req.url ?? '', headers, messages: [], close: null, socket: undefined, pings: 0,
      ended: new Promise((r) => { resolveEnded = r; }),
    };
    connections.push(conn);
    for (let i = 0; i < waiters.length; i++) if (waiters[i]!()) waiters.splice(i--, 1);
    socket.on('error', () => undefined);
    socket.on('close', () => resolveEnded());
    if (behaviour === 'no-answer') { held.push(socket); return; }
    if (behaviour === 'http400') {
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 11\r\nConnection: close\r\n\r\nBad Request');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      conn.socket = ws;
      let kept = 0;
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        kept += data.length;
        if (kept > MAX_KEPT_BYTES) return;
        conn.messages.push(isBinary ? { kind: 'binary', data: Buffer.from(data) } : { kind: 'text', text: data.toString() });
      });
      ws.on('close', (code: number, reason: Buffer) => {
        if (code !== 1005 && code !== 1006) conn.close = { code, reason: reason.toString() };
        else if (code === 1005) conn.close = { code, reason: '' };
      });
      ws.on('ping', () => { conn.pings++; });
      ws.on('error', () => undefined);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    port, connections, behaviour,
    connection(n: number, timeoutMs = 5000): Promise<RecordedConnection> {
      return new Promise((resolvePromise, reject) => {
        const check = () => {
          if (connections.length >= n) { clearTimeout(t); resolvePromise(connections[n - 1]!); return true; }
          return false;
        };
        const t = setTimeout(() => reject(new Error(`no connection #${n} within ${timeoutMs} ms`)), timeoutMs);
        if (!check()) waiters.push(check);
      });
    },
    async close() {
      for (const s of held) s.destroy();
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
