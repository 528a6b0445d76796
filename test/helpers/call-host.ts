// A SIP host in the test process, configured like `audio-stream serve`, with its events collected.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Runtime } from '../../src/service/runtime.ts';
import { buildConfig } from '../../src/config/load.ts';
import { createSipHost } from '../../src/service/service.ts';
import { serviceApplications } from '../../src/service/runtime.ts';
import type { FsEvent } from '../../src/events/event.ts';

/** Starts a SipHost on an ephemeral SIP port with these routes and RTP ports; collects every event. */
export async function startCallHost(opts: { routes: unknown[]; rtpPortMin: number; rtpTimeoutSec?: number }) {
  const tempDir = mkdtempSync(join(tmpdir(), 'as-calls-'));
  const config = buildConfig({
    sip: { listen: '127.0.0.1:0' },
    rtp: { address: '127.0.0.1', portMin: opts.rtpPortMin, portMax: opts.rtpPortMin + 400, timeoutSec: opts.rtpTimeoutSec ?? 60 },
    tempDir,
    routes: opts.routes,
  }, (app, data) => serviceApplications().check(app, data));
  const runtime = new Runtime({ tempDir });
  const events: FsEvent[] = [];
  runtime.bus.subscribe((e) => events.push(e));
  const host = createSipHost(runtime, config);
  await host.start();
  return {
    runtime, host, events, tempDir,
    target: `127.0.0.1:${host.ua.address.port}`,
    /** Event names (with subclass for CUSTOM) of one channel, in order. */
    timeline(uuid: string): string[] {
      return events.filter((e) => e.get('Unique-ID') === uuid).map((e) => e.subclass ?? e.name);
    },
    close: () => host.close(),
  };
}
