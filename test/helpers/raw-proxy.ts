// A TCP proxy on 127.0.0.1 that forwards bytes to an upstream port and lets a test inject its own
// bytes towards the client (e.g. a bogus TLS record after the handshake).
import net, { type AddressInfo, type Socket } from 'node:net';

/** One proxied connection. */
export interface ProxiedConnection {
  client: Socket;
  upstream: Socket;
}

/** A running proxy; `close()` destroys every connection. */
export interface RawProxy {
  port: number;
  connections: ProxiedConnection[];
  close(): Promise<void>;
}

/** Starts a proxy to 127.0.0.1:`upstreamPort`. */
export async function startRawProxy(upstreamPort: number): Promise<RawProxy> {
  const connections: ProxiedConnection[] = [];
  const server = net.createServer((client) => {
    const upstream = net.connect(upstreamPort, '127.0.0.1');
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
    connections.push({ client, upstream });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections,
    close() {
      for (const c of connections) { c.client.destroy(); c.upstream.destroy(); }
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A TLS 1.2/1.3 application-data record header plus 32 bytes no session key can authenticate. */
export function bogusTlsRecord(): Buffer {
  const body = Buffer.alloc(32, 0xa5);
  return Buffer.concat([Buffer.from([0x17, 0x03, 0x03, 0x00, body.length]), body]);
}
