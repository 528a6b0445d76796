// The caller's audio in conformance calls: the test signal sent as PCMU RTP from the port the SDP
// offered, paced by the clock (no drift), so that FreeSWITCH and audio-stream receive the same
// packets and their streams can be compared sample by sample. The sending runs in a worker thread.
import { Worker } from 'node:worker_threads';

export { testSignal } from './rtp-signal.ts';

export interface RtpSender {
  port: number;
  /** Starts sending to 127.0.0.1:remotePort, one packet per ptime. */
  start(remotePort: number): void;
  close(): void;
}

let worker: Worker | undefined;
let nextId = 1;
const pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
let open = 0;

function theWorker(): Worker {
  if (!worker) {
    // A worker does not get the parent's tsx loader: it registers it, then loads the TypeScript.
    const entry = new URL('./rtp-sender-worker.ts', import.meta.url).href;
    worker = new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(entry)}); })`, { eval: true });
    worker.on('message', (m: { id: number; ok?: boolean; error?: string }) => {
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (m.error) p?.reject(new Error(m.error));
      else p?.resolve();
    });
    worker.on('error', (err) => {
      for (const p of pending.values()) p.reject(err);
      pending.clear();
      worker = undefined; // the next sender starts a new one
      open = 0;
    });
  }
  return worker;
}

/** Binds `port` on loopback (RTP received there is read and dropped). */
export async function openRtpSender(port: number, ptimeMs: number): Promise<RtpSender> {
  const id = nextId++;
  const w = theWorker();
  open++;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { pending.delete(id); reject(new Error(`the RTP sender did not open port ${port} within 10 s`)); }, 10000);
      pending.set(id, { resolve: () => { clearTimeout(timer); resolve(); }, reject: (e) => { clearTimeout(timer); reject(e); } });
      w.postMessage({ op: 'open', id, port, ptimeMs });
    });
  } catch (err) {
    if (--open === 0) { void w.terminate(); worker = undefined; }
    throw err;
  }
  let closed = false;
  return {
    port,
    start: (remotePort: number) => w.postMessage({ op: 'start', id, remotePort }),
    close: () => {
      if (closed) return;
      closed = true;
      w.postMessage({ op: 'close', id });
      // The last sender gone: the worker goes too, so the process can exit.
      if (--open === 0) { void w.terminate(); worker = undefined; }
    },
  };
}
