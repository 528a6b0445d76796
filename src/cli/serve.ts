import { loadConfig } from '../config/load.ts';
import { setLogLevel, Logger } from '../lib/logger.ts';
import { isAppError, messageOf } from '../lib/errors.ts';
import { serviceApplications } from '../service/runtime.ts';
import { Service } from '../service/service.ts';
import { fitToDescriptors, openFileLimit } from '../service/descriptors.ts';
import { parseArgs, lastOption, usageError } from './args.ts';

export const SERVE_HELP = `Usage: audio-stream serve [--config <file.yaml|file.json>]

Runs the service: answers SIP calls (UDP and TCP), runs their RTP, and streams their audio
as the configured routes say; serves the Event Socket and the HTTP API. With no config file it
runs on embedded defaults: SIP on 127.0.0.1:5060, RTP 127.0.0.1:16384-32767, Event Socket
127.0.0.1:8021 (password ClueCon), HTTP 127.0.0.1:8080, one route that answers and parks.
Environment overrides: AUDIO_STREAM_SIP_LISTEN, AUDIO_STREAM_RTP_PORT_MIN, ... (see README).
SIGINT or SIGTERM hangs up every call, stops the streams, deletes temp files and exits 0.
It exits 2 when it cannot start, with one line naming the config key: a bad config, a listen
address in use or not permitted (sip.listen 127.0.0.1:5060: address already in use), a tempDir
that cannot be made or written or lies under /proc or /sys. Exit 1 is a crash after start.`;

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
    if (args.positionals.length) throw usageError(`unexpected argument ${args.positionals[0]}`);
    configPath = lastOption(args, 'config') ?? process.env.AUDIO_STREAM_CONFIG;
  } catch (err) {
    if (isAppError(err, 'USAGE')) {
      process.stderr.write(`audio-stream serve: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  let config;
  try {
    const applications = serviceApplications();
    config = loadConfig(configPath, process.env, (app, data) => applications.check(app, data));
  } catch (err) {
    if (isAppError(err, 'CONFIG_INVALID')) {
      process.stderr.write(`audio-stream serve: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (process.env.AUDIO_STREAM_LOG_LEVEL !== 'off') setLogLevel(config.log.level);
  const log = new Logger('serve');
  for (const warning of fitToDescriptors(config, openFileLimit())) log.warning(warning);
  let service: Service;
  try {
    service = Service.create(config, {
      tempDir: config.tempDir,
      playFileBudget: { totalBytes: config.tempDirBudgetMb * 1048576, perStreamBytes: config.tempDirStreamBudgetMb * 1048576 },
      soundDirs: config.sounds.dirs,
      maxJsonEventBytes: config.stream.maxJsonEventBytes,
    });
  } catch (err) {
    process.stderr.write(`audio-stream serve: config: ${messageOf(err)}\n`);
    return 2;
  }
  try {
    await service.start();
  } catch (err) {
    // Every start-up failure is the config's (a key whose value cannot be used here): exit 2, as a bad config.
    process.stderr.write(`audio-stream serve: ${messageOf(err)}\n`);
    return 2;
  }
  const { sip, esl, http, workers } = service;
  log.notice(`SIP listening on udp and tcp ${sip.ua.address.host}:${sip.ua.address.port} (advertised ${config.sip.advertisedAddress})`);
  log.notice(`Event Socket listening on ${esl.address.host}:${esl.address.port}; HTTP API on http://${http.address.host}:${http.address.port}`);
  log.notice(`RTP on ${config.rtp.address} ports ${config.rtp.portMin}-${config.rtp.portMax}, timeout ${config.rtp.timeoutSec} s; temp files in ${config.tempDir}`);
  log.notice(workers ? `media on ${workers.count} worker thread(s)` : 'media on the main thread (media.workers 0)');
  log.notice(`${config.routes.length} route(s) loaded${configPath ? ` from ${configPath}` : ' (embedded defaults)'}`);

  const signal = await new Promise<string>((resolve) => {
    const onSignal = (name: string) => () => resolve(name);
    signals.once('SIGINT', onSignal('SIGINT'));
    signals.once('SIGTERM', onSignal('SIGTERM'));
  });
  log.notice(`${signal}: hanging up ${workers?.size ?? service.runtime.channels.size} call(s) and stopping`);
  await service.close('SYSTEM_SHUTDOWN', SHUTDOWN_GRACE_MS);
  log.notice('stopped');
  return 0;
}
