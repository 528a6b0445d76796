import { Core } from '../core.ts';
import { loadConfig, ConfigError } from '../config/load.ts';
import { setLogLevel, Logger } from '../lib/logger.ts';
import { SipHost } from '../call/sip-host.ts';
import { EslServer } from '../esl/server.ts';
import { HttpApi } from '../http/server.ts';
import { executeApiLine } from '../api/commands.ts';
import { coreStats } from '../api/core-stats.ts';
import { serializeJson } from '../events/serialize.ts';
import { mediaClock } from '../channel/media-clock.ts';
import { findAudioStream } from '../audio-stream/command.ts';
import { parseArgs, lastOption, UsageError } from './args.ts';

export const SERVE_HELP = `Usage: audio-stream serve [--config <file.yaml|file.json>]

Runs the service: answers SIP calls (UDP and TCP), runs their RTP, and streams their audio
as the configured routes say; serves the Event Socket and the HTTP API. With no config file it
runs on embedded defaults: SIP on 127.0.0.1:5060, RTP 127.0.0.1:16384-32767, Event Socket
127.0.0.1:8021 (password ClueCon), HTTP 127.0.0.1:8080, one route that answers and parks.
Environment overrides: AUDIO_STREAM_SIP_LISTEN, AUDIO_STREAM_RTP_PORT_MIN, ... (see README).
SIGINT or SIGTERM hangs up every call, stops the streams, deletes temp files and exits 0.`;

/** How long shutdown waits for streams to close and BYEs to go out, in ms. */
const SHUTDOWN_GRACE_MS = 2000;

/** `audio-stream serve`: resolves with the exit status when the service has stopped. */
export async function serveCommand(argv: string[], signals: NodeJS.EventEmitter = process): Promise<number> {
  let configPath: string | undefined;
  try {
    const args = parseArgs(argv, ['config'], ['help', 'h']);
    if (args.flags.has('help') || args.flags.has('h')) {
      process.stdout.write(`${SERVE_HELP}\n`);
      return 0;
    }
    if (args.positionals.length) throw new UsageError(`unexpected argument ${args.positionals[0]}`);
    configPath = lastOption(args, 'config') ?? process.env.AUDIO_STREAM_CONFIG;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`audio-stream serve: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  let config;
  try {
    config = loadConfig(configPath);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`audio-stream serve: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (process.env.AUDIO_STREAM_LOG_LEVEL !== 'off') setLogLevel(config.log.level);
  const log = new Logger('serve');
  const core = new Core({ tempDir: config.tempDir });
  coreStats(core); // count sessions from the start, for `status`
  const sip = new SipHost(core, config);
  const esl = new EslServer(core, { listen: config.esl.listen, password: config.esl.password, acl: config.esl.acl });
  let http: HttpApi;
  try {
    http = new HttpApi(core, {
      listen: config.http.listen,
      token: config.http.token,
      execute: (line) => executeApiLine(core, line),
      eventToJson: serializeJson,
      metrics: [() => [
        { name: 'audio_stream_esl_clients', help: 'Connected Event Socket clients.', type: 'gauge', value: esl.clientCount },
        { name: 'audio_stream_http_event_clients', help: 'Connected live event stream (SSE) clients.', type: 'gauge', value: http.eventClients },
        { name: 'audio_stream_sip_messages_received_total', help: 'SIP messages received.', type: 'counter', value: sip.ua.stats.received },
        { name: 'audio_stream_sip_messages_malformed_total', help: 'Malformed SIP messages (answered 400 or dropped).', type: 'counter', value: sip.ua.stats.malformed },
        { name: 'audio_stream_media_clock_skipped_ticks_total', help: 'Media ticks skipped because the process was overloaded.', type: 'counter', value: mediaClock.skippedTicks },
      ]],
    });
  } catch (err) {
    process.stderr.write(`audio-stream serve: config: ${(err as Error).message}\n`);
    return 2;
  }
  const listeners: Array<[string, () => Promise<void>]> = [
    [`SIP on ${config.sip.listen.host}:${config.sip.listen.port}`, () => sip.start()],
    [`the Event Socket on ${config.esl.listen.host}:${config.esl.listen.port}`, () => esl.start()],
    [`HTTP on ${config.http.listen.host}:${config.http.listen.port}`, () => http.start()],
  ];
  for (const [what, start] of listeners) {
    try {
      await start();
    } catch (err) {
      process.stderr.write(`audio-stream serve: cannot listen for ${what}: ${(err as Error).message}\n`);
      await Promise.allSettled([sip.close(), esl.close(), http.close()]);
      return 1;
    }
  }
  log.notice(`SIP listening on udp and tcp ${sip.ua.address.host}:${sip.ua.address.port} (advertised ${config.sip.advertisedAddress})`);
  log.notice(`Event Socket listening on ${esl.address.host}:${esl.address.port}; HTTP API on http://${http.address.host}:${http.address.port}`);
  log.notice(`RTP on ${config.rtp.address} ports ${config.rtp.portMin}-${config.rtp.portMax}, timeout ${config.rtp.timeoutSec} s; temp files in ${config.tempDir}`);
  log.notice(`${config.routes.length} route(s) loaded${configPath ? ` from ${configPath}` : ' (embedded defaults)'}`);

  const signal = await new Promise<string>((resolve) => {
    const onSignal = (name: string) => () => resolve(name);
    signals.once('SIGINT', onSignal('SIGINT'));
    signals.once('SIGTERM', onSignal('SIGTERM'));
  });
  log.notice(`${signal}: hanging up ${core.registry.size} call(s) and stopping`);
  const streams = [...core.registry].map((c) => findAudioStream(c)?.finished).filter(Boolean);
  await sip.close('SYSTEM_SHUTDOWN');
  await Promise.race([Promise.all(streams), new Promise((r) => setTimeout(r, SHUTDOWN_GRACE_MS))]);
  await Promise.allSettled([esl.close(), http.close()]);
  log.notice('stopped');
  return 0;
}
