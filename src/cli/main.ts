import { streamCommand, STREAM_HELP } from './stream.ts';
import { serveCommand, SERVE_HELP } from './serve.ts';
import { cliCommand, CLI_HELP } from './cli.ts';

const HELP = `Usage: audio-stream <command> [arguments]

Commands:
  serve [--config <file>]
                 run the service: answer SIP calls and stream them as the routes say
  cli [-H host] [-P port] [-p password] [-x "<command>"]
                 an fs_cli: run API commands and watch events over the Event Socket
  stream <file.wav> <ws-url> [mono|mixed|stereo] [rate] [metadata...]
                 stream a WAV file to a WebSocket server as a call would be streamed
  help [command] show help

Run "audio-stream <command> --help" for a command's options.`;

/** Runs one CLI command; resolves to the exit status. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'stream':
      return streamCommand(rest);
    case 'serve':
      return serveCommand(rest);
    case 'cli':
      return cliCommand(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${rest[0] === 'stream' ? STREAM_HELP : rest[0] === 'serve' ? SERVE_HELP : rest[0] === 'cli' ? CLI_HELP : HELP}\n`);
      return 0;
    default:
      process.stderr.write(`audio-stream: unknown command ${JSON.stringify(command)}\n${HELP}\n`);
      return 2;
  }
}
