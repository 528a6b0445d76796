// A WebSocket server over TLS on 127.0.0.1 (https server + ws), recording what it receives and
// what each TLS connection looked like (SNI, client certificate).
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { WebSocketServer, type WebSocket } from 'ws';

/** One WebSocket connection seen by the TLS server. */
export interface TlsServerConnection {
  socket: WebSocket;
  /** CN of the client certificate, if one was presented. */
  clientCn: string | undefined;
  binaryMessages: number;
  texts: string[];
  closed: Promise<{ code: number; reason: string }>;
  /** Resolves once `count` binary messages (or more) have arrived. */
  binaries(count: number): Promise<void>;
}

/** A running TLS WebSocket server. */
export interface TlsWsServer {
  port: number;
  connections: TlsServerConnection[];
  /** `servername` (SNI) of every TLS connection completed, in order (false or null when none was sent). */
  servernames: Array<string | false | null>;
  /** TLS errors seen by the server (failed handshakes). */
  tlsErrors: Error[];
  nextConnection(): Promise<TlsServerConnection>;
  close(): Promise<void>;
}

/** Starts an https server with `tlsOptions` and a ws server on it, on 127.0.0.1 with an ephemeral port. */
export async function startTlsWsServer(tlsOptions: https.ServerOptions): Promise<TlsWsServer> {
  const server = https.createServer(tlsOptions);
  const wss = new WebSocketServer({ server });
  const connections: TlsServerConnection[] = [];
  const servernames: Array<string | false | null> = [];
  const tlsErrors: Error[] = [];
  const waiters: Array<(c: TlsServerConnection) => void> = [];
  let taken = 0;
  server.on('secureConnection', (s: TLSSocket) => servernames.push(s.servername));
  server.on('tlsClientError', (err: Error) => tlsErrors.push(err));
  wss.on('connection', (socket, request) => {
    const tlsSocket = request.socket as TLSSocket;
    const peer = tlsSocket.getPeerCertificate();
    const cn = peer && peer.subject ? peer.subject.CN : undefined;
    let resolveClosed!: (v: { code: number; reason: string }) => void;
    const binaryWaiters: Array<{ count: number; resolve: () => void }> = [];
    const conn: TlsServerConnection = {
      socket, clientCn: typeof cn === 'string' ? cn : undefined, binaryMessages: 0, texts: [],
      closed: new Promise((r) => { resolveClosed = r; }),
      binaries(count) {
        return conn.binaryMessages >= count ? Promise.resolve() : new Promise((resolve) => binaryWaiters.push({ count, resolve }));
      },
    };
    socket.on('message', (data, isBinary) => {
      if (isBinary) conn.binaryMessages++;
      else conn.texts.push(String(data));
      for (let i = 0; i < binaryWaiters.length; i++) {
        if (conn.binaryMessages >= binaryWaiters[i]!.count) binaryWaiters.splice(i--, 1)[0]!.resolve();
      }
    });
    socket.on('close', (code, reason) => resolveClosed({ code, reason: reason.toString() }));
    socket.on('error', () => undefined);
    connections.push(conn);
    const w = waiters.shift();
    if (w) { taken++; w(conn); }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections,
    servernames,
    tlsErrors,
    nextConnection() {
      if (taken < connections.length) return Promise.resolve(connections[taken++]!);
      return new Promise((resolve) => waiters.push(resolve));
    },
    async close() {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
