// A media worker (worker_threads): one Runtime with its own media clock, engine, dialplan and
// channels, running the calls the main thread hands it. Each call's RTP socket, playout buffer,
// codec, media bugs, WebSocket streams and playback live here; the main thread keeps the call's
// SIP dialog and the listeners. Events and log lines go to the main thread, which serves them.
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { Runtime } from './runtime.ts';
import { CallAcceptor } from '../call/sip-host.ts';
import { RemoteIncomingCall } from '../call/remote-call.ts';
import { channelRows } from '../api/show-channels.ts';
import { channelDetail, channelSummary } from '../http/server.ts';
import { metricsSnapshot } from '../http/metrics.ts';
import { runCallCommand } from '../esl/sendmsg.ts';
import { addLogSink, setLogLevel, Logger, type LogSink } from '../lib/logger.ts';
import { messageOf } from '../lib/errors.ts';
import type { MainToWorker, WorkerInit, WorkerMetrics, WorkerRequest, WorkerToMain } from './worker-protocol.ts';

const port = parentPort!;
const init = workerData as WorkerInit;
const { config } = init;
const log = new Logger(`media-worker(${init.index})`);

function post(message: WorkerToMain): void {
  port.postMessage(message);
}

setLogLevel(init.logLevel);
const forwardLog: LogSink = (level, scope, message, origin) => post({ t: 'log', level, scope, message, uuid: origin.uuid, site: origin.site() });
let removeForward: (() => void) | undefined;
function followSinks(count: number): void {
  if (count > 0 && !removeForward) removeForward = addLogSink(forwardLog);
  else if (count === 0 && removeForward) {
    removeForward();
    removeForward = undefined;
  }
}
followSinks(init.logSinks);

const runtime = new Runtime({
  tempDir: config.tempDir,
  playFileBudget: { totalBytes: init.playFileBudgetBytes, perStreamBytes: config.tempDirStreamBudgetMb * 1048576 },
  soundDirs: config.sounds.dirs,
  maxJsonEventBytes: config.stream.maxJsonEventBytes,
  identity: init.identity,
});
const acceptor = new CallAcceptor({
  channels: runtime.channels,
  mediaClock: runtime.mediaClock,
  route: (channel, call) => runtime.dialplan.routeCall(channel, config.routes, call),
}, config, init.ports);

runtime.bus.subscribe((e) => post({ t: 'event', name: e.name, subclass: e.subclass, headers: e.headers, body: e.body }));

// Requests of this thread to the main one: an outbound socket's `api`, `sendmsg <uuid>` of another worker's call.
const pending = new Map<number, (value: unknown) => void>();
let nextId = 0;
function ask(request: WorkerRequest): Promise<unknown> {
  const id = ++nextId;
  post({ t: 'request', id, request });
  return new Promise((resolve) => pending.set(id, resolve));
}
runtime.esl.api = {
  execute: async (name, args) => String(await ask({ op: 'api', name, args })),
  executeConsole: async (line) => String(await ask({ op: 'console', line })),
};
runtime.esl.remote = {
  session: () => undefined,
  callCommand: async (uuid, command) => (await ask({ op: 'call-command', uuid, command })) as string | undefined,
  getVariable: async (uuid, name) => (await ask({ op: 'getvar', uuid, name })) as string | undefined,
};

const calls = new Map<number, RemoteIncomingCall>();
let lastUtilization = performance.eventLoopUtilization();

async function answer(request: WorkerRequest): Promise<unknown> {
  switch (request.op) {
    case 'api': return runtime.api.executeUnannounced(request.name, request.args);
    case 'console': return runtime.api.executeConsole(request.line);
    case 'call-command': {
      const channel = runtime.channels.get(request.uuid);
      return channel ? runCallCommand(runtime.dialplan, channel, request.command).catch((err: Error) => `-ERR ${err.message}`) : undefined;
    }
    case 'getvar': return runtime.channels.get(request.uuid)?.getVariable(request.name);
    case 'rows': return channelRows(runtime.apiContext);
    case 'summaries': return [...runtime.channels].map((c) => channelSummary(c, runtime.streams));
    case 'detail': {
      const channel = runtime.channels.get(request.uuid);
      return channel ? channelDetail(channel, runtime.streams) : undefined;
    }
    case 'metrics': {
      const now = performance.eventLoopUtilization();
      const utilization = performance.eventLoopUtilization(now, lastUtilization).utilization;
      lastUtilization = now;
      const { mediaClock, bus } = runtime;
      const metrics: WorkerMetrics = {
        snapshot: metricsSnapshot(runtime.channels, runtime.streams),
        utilization,
        counters: {
          rtpForeign: acceptor.rtpTotals.foreign,
          refusedForRtp: acceptor.refusedForRtp,
          skippedTicks: mediaClock.skippedTicks,
          clockFailures: mediaClock.failures.count,
          listenerFailures: bus.failures.count,
          housekeepingFailures: runtime.ticker.failures.count,
          hangupFailures: runtime.channels.failures.count,
          playFileBytes: runtime.streams.playFiles.usedBytes,
          playFilesRefused: runtime.streams.playFiles.refused,
          sendDelayP99Ms: runtime.streams.metrics.sendDelay.percentile(99),
        },
      };
      return metrics;
    }
    case 'hangup-all': {
      const streams = [...runtime.channels].map((c) => runtime.streams.find(c)?.finished).filter(Boolean);
      acceptor.hangupAll(request.cause);
      for (const channel of [...runtime.channels]) channel.hangup(request.cause);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(streams), new Promise((r) => { timer = setTimeout(r, request.graceMs); })]);
      clearTimeout(timer);
      return true;
    }
  }
}

port.on('message', (message: MainToWorker) => {
  switch (message.t) {
    case 'call': {
      let call: RemoteIncomingCall;
      try {
        call = new RemoteIncomingCall(message.call, (op) => post({ t: 'call-op', op }));
      } catch (err) {
        log.error(`call ${message.call.key} refused: ${messageOf(err)}`);
        post({ t: 'call-op', op: { op: 'reject', key: message.call.key, status: 500, reason: undefined } });
        return;
      }
      calls.set(call.key, call); // until the main thread reports the dialog terminated
      void acceptor.accept(call);
      break;
    }
    case 'call-event': {
      const call = calls.get(message.event.key);
      if (!call) return;
      call.handle(message.event);
      if (message.event.ev === 'terminated') calls.delete(call.key);
      break;
    }
    case 'request': {
      const { id } = message;
      void answer(message.request)
        .catch((err: unknown) => `-ERR ${messageOf(err)}\n`)
        .then((value) => post({ t: 'reply', id, value }));
      break;
    }
    case 'reply': {
      const resolve = pending.get(message.id);
      pending.delete(message.id);
      resolve?.(message.value);
      break;
    }
    case 'log-settings':
      setLogLevel(message.level);
      followSinks(message.sinks);
      break;
    case 'crash':
      setImmediate(() => { throw new Error('media worker crash asked for by a test'); });
      break;
  }
});

post({ t: 'ready' });
