import { streamCommand, STREAM_HELP } from './stream.ts';

const HELP = `Usage: audio-stream <command> [arguments]

Commands:
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
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${rest[0] === 'stream' ? STREAM_HELP : HELP}\n`);
      return 0;
    default:
      process.stderr.write(`audio-stream: unknown command ${JSON.stringify(command)}\n${HELP}\n`);
      return 2;
  }
}
