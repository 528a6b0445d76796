// Types for the parts of modesl@1.2.1 (englercj/node-esl, plain JavaScript) the tests use.
declare module 'modesl' {
  import type { Socket } from 'node:net';

  /** An ESL event or reply (ESLevent). */
  export class Event {
    constructor(type: string, subclass?: string);
    type: string;
    subclass: string | undefined;
    body: string;
    headers: Array<{ name: string; value: string }>;
    getHeader(name: string): string | null;
    getBody(): string;
    serialize(format?: 'plain' | 'json' | 'xml'): string;
  }

  type Callback = (event: Event) => void;

  /** ESLconnection: inbound with (host, port, password, ready?), outbound with (socket, ready?). */
  export class Connection {
    constructor(host: string, port: number, password: string, ready?: () => void);
    constructor(socket: Socket, ready?: () => void);
    socket: Socket | null;
    api(command: string, args: string | string[], cb: Callback): void;
    api(command: string, cb: Callback): void;
    bgapi(command: string, args: string | string[], jobid: string | null, cb: Callback): void;
    bgapi(command: string, args: string | string[], cb: Callback): void;
    events(type: 'plain' | 'json' | 'xml', events: string | string[], cb?: Callback): void;
    filter(header: string, value: string, cb?: Callback): void;
    filterDelete(header: string, value: string, cb?: Callback): void;
    sendRecv(command: string, args?: Record<string, string | number | boolean> | Callback, cb?: Callback): void;
    execute(app: string, arg: string, uuid: string, cb?: Callback): string;
    disconnect(): void;
    connected(): boolean;
    getInfo(): Event | null;
    on(event: string, listener: (...args: any[]) => void): this;
    once(event: string, listener: (...args: any[]) => void): this;
    off(event: string, listener: (...args: any[]) => void): this;
    removeListener(event: string, listener: (...args: any[]) => void): this;
  }

  const esl: { Connection: typeof Connection; Event: typeof Event };
  export default esl;
}
