// A raw TCP server on 127.0.0.1 for scripting misbehaving WebSocket servers byte by byte, plus
// helpers for the bits of RFC 6455 such a script needs (handshake answer, frame encoding).
import net, { type AddressInfo, type Socket } from 'node:net';
import { createHash } from 'node:crypto';

/** RFC 6455 §1.3: the GUID appended to Sec-WebSocket-Key (exactly this value; ws checks it). */
export const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** A raw TCP server; `close()` destroys every connection it accepted. */
export interface RawServer {
  port: number;
  sockets: Socket[];
  close(): Promise<void>;
}

/** Starts a TCP server on 127.0.0.1 with an ephemeral port; `onSocket` scripts each connection. */
export async function startRawServer(onSocket: (socket: Socket) => void = () => undefined): Promise<RawServer> {
  const sockets: Socket[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    sockets,
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port on 127.0.0.1 that was free a moment ago and has nothing listening now. */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The Sec-WebSocket-Accept value for a Sec-WebSocket-Key. */
export function acceptFor(key: string): string {
  return createHash('sha1').update(key + WS_GUID).digest('base64');
}

/** Calls `onRequest` once with the HTTP request head (up to the blank line) and the bytes after it. */
export function readRequestHead(socket: Socket, onRequest: (head: string, rest: Buffer) => void): void {
  let buffered = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    const end = buffered.indexOf('\r\n\r\n');
    if (end < 0) return;
    socket.off('data', onData);
    onRequest(buffered.subarray(0, end).toString('latin1'), buffered.subarray(end + 4));
  };
  socket.on('data', onData);
}

/** The value of one header in a request head (case-insensitive name), or undefined. */
export function headerValue(head: string, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const line of head.split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === lower) return line.slice(colon + 1).trim();
  }
  return undefined;
}

/** A correct 101 answer to a WebSocket upgrade request head (no extension, no subprotocol). */
export function switchingProtocols(head: string): string {
  const key = headerValue(head, 'sec-websocket-key') ?? '';
  return 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
    + `Sec-WebSocket-Accept: ${acceptFor(key)}\r\n\r\n`;
}

/** Answers the upgrade correctly, then calls `onOpen` (the socket is then a server-side WebSocket). */
export function acceptUpgrade(socket: Socket, onOpen: (socket: Socket) => void = () => undefined): void {
  readRequestHead(socket, (head) => {
    socket.write(switchingProtocols(head));
    onOpen(socket);
  });
}

/** Encodes one final frame with `opcode`; `mask` set means a masking key (which servers must not use). */
export function encodeFrame(opcode: number, payload: Buffer, mask = false): Buffer {
  const len = payload.length;
  const lenBytes = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const header = Buffer.alloc(2 + lenBytes + (mask ? 4 : 0));
  header[0] = 0x80 | (opcode & 0x0f);
  header[1] = (mask ? 0x80 : 0) | (lenBytes === 0 ? len : lenBytes === 2 ? 126 : 127);
  if (lenBytes === 2) header.writeUInt16BE(len, 2);
  else if (lenBytes === 8) header.writeBigUInt64BE(BigInt(len), 2);
  if (!mask) return Buffer.concat([header, payload]);
  const key = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  key.copy(header, 2 + lenBytes);
  const masked = Buffer.alloc(len);
  for (let i = 0; i < len; i++) masked[i] = payload[i]! ^ key[i & 3]!;
  return Buffer.concat([header, masked]);
}
