// The application's WebSocket server as the conformance suite sees it: the tests' recording
// server (startTestServer) plus every upgrade request as sent (headers in order, also for the
// upgrades it refuses), the pings it answered, and the faults it can make on purpose: never answer
// the upgrade, or answer it with HTTP 400.
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { startTestServer, type Received, type ServerConnection } from '../helpers/harness.ts';

/** How the server answers the upgrade. */
export type UpgradeBehaviour = 'accept' | 'no-answer' | 'http400';

/** One upgrade request the server received, and what became of it. */
export interface RecordedConnection {
  /** Request line target (path and query). */
  path: string;
  /** Header names as sent (in order) with their values. */
  headers: Array<[string, string]>;
  messages: Received[];
  /** The close frame received (code, reason), or null when the TCP connection ended without one. */
  close: { code: number; reason: string } | null;
  /** Pings received (answered by ws). */
  pings: number;
  /** Resolves when the connection is gone. */
  ended: Promise<void>;
  /** The accepted WebSocket, undefined for a refused upgrade. */
  socket: WebSocket | undefined;
}

export interface WsRecorder {
  port: number;
  connections: RecordedConnection[];
  close(): Promise<void>;
}

export async function startWsRecorder(behaviour: UpgradeBehaviour = 'accept'): Promise<WsRecorder> {
  const connections: RecordedConnection[] = [];
  const bySocket = new Map<Socket, RecordedConnection>();
  const srv = await startTestServer({
    perMessageDeflate: false,
    maxPayload: 16 << 20,
    verifyClient: (info, answer) => {
      const req = info.req;
      const headers: Array<[string, string]> = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i]!, req.rawHeaders[i + 1]!]);
      const socket = req.socket;
      const rec: RecordedConnection = {
        path: req.url ?? '', headers, messages: [], close: null, pings: 0, socket: undefined,
        ended: new Promise((resolve) => socket.once('close', () => resolve())),
      };
      connections.push(rec);
      bySocket.set(socket, rec);
      if (behaviour === 'http400') answer(false, 400);
      else if (behaviour === 'accept') answer(true);
      // 'no-answer': the upgrade is never answered (the socket is cut at close()).
    },
  }, (conn: ServerConnection) => {
    const rec = bySocket.get(conn.request.socket);
    if (!rec) return;
    rec.socket = conn.socket;
    rec.messages = conn.messages;
    conn.socket.on('ping', () => { rec.pings++; });
    void conn.closed.then(({ code, reason }) => {
      // 1006: the TCP connection ended without a Close frame; 1005: a Close frame without a code.
      rec.close = code === 1006 ? null : { code, reason: code === 1005 ? '' : reason };
    });
  });
  return {
    port: srv.port, connections,
    async close() {
      for (const s of bySocket.keys()) s.destroy();
      await srv.close();
    },
  };
}
