import { createInterface } from 'node:readline';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { readFileSync, appendFileSync } from 'node:fs';
import { EslClient, type EslFrame } from './esl-client.ts';
import { parseArgs, lastOption, usageError } from './args.ts';
import { isAppError } from '../lib/errors.ts';

export const CLI_HELP = `Usage: audio-stream cli [-H host] [-P port] [-p password] [-x "<command>"]

An fs_cli for audio-stream: connects to the Event Socket (default 127.0.0.1:8021, password
ClueCon). With -x it runs one API command, prints the reply and exits 0 on success, 1 when
the reply is -ERR or -USAGE. Without -x it opens a prompt: API commands
(uuid_audio_stream <uuid> stop, show channels, status...) and slash commands:
  /event plain|json|xml <names...>   subscribe (ALL, CHANNEL_ANSWER, CUSTOM mod_audio_stream::json...)
  /noevents  /nixevent <names>  /filter <header> <value>  /log <level>  /nolog
  /help  /exit (also /quit, /bye, Ctrl-D)
Events received are printed as they arrive.`;

const HISTORY_FILE = join(homedir(), '.audio_stream_cli_history');

function printFrame(frame: EslFrame): void {
  const type = frame.headers.get('content-type');
  if (type === 'log/data') {
    process.stdout.write(frame.body.endsWith('\n') ? frame.body : `${frame.body}\n`);
    return;
  }
  process.stdout.write(`\n[event ${type}]\n${frame.body}${frame.body.endsWith('\n') ? '' : '\n'}`);
}

/** `audio-stream cli`: resolves with the exit status. */
export async function cliCommand(argv: string[]): Promise<number> {
  let host: string;
  let port: number;
  let password: string;
  let execute: string | undefined;
  try {
    const args = parseArgs(argv, ['H', 'P', 'p', 'x', 'host', 'port', 'password', 'execute'], ['help', 'h']);
    if (args.flags.has('help') || args.flags.has('h')) {
      process.stdout.write(`${CLI_HELP}\n`);
      return 0;
    }
    host = lastOption(args, 'H') ?? lastOption(args, 'host') ?? '127.0.0.1';
    port = Number(lastOption(args, 'P') ?? lastOption(args, 'port') ?? 8021);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw usageError('-P must be a port number');
    password = lastOption(args, 'p') ?? lastOption(args, 'password') ?? 'ClueCon';
    execute = lastOption(args, 'x') ?? lastOption(args, 'execute');
    if (args.positionals.length) throw usageError(`unexpected argument ${args.positionals[0]} (quote the command and give it with -x)`);
  } catch (err) {
    if (isAppError(err, 'USAGE')) {
      process.stderr.write(`audio-stream cli: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  let client: EslClient;
  try {
    client = await EslClient.connect(host, port, password);
  } catch (err) {
    process.stderr.write(`audio-stream cli: cannot use the Event Socket at ${host}:${port}: ${(err as Error).message}\n`);
    return 1;
  }
  if (execute !== undefined) {
    try {
      const reply = await client.api(execute);
      process.stdout.write(reply.endsWith('\n') || reply === '' ? reply : `${reply}\n`);
      return /^-(ERR|USAGE)/.test(reply) ? 1 : 0;
    } catch (err) {
      process.stderr.write(`audio-stream cli: ${(err as Error).message}\n`);
      return 1;
    } finally {
      client.close();
    }
  }
  return interactive(client, host, port);
}

async function interactive(client: EslClient, host: string, port: number): Promise<number> {
  let history: string[] = [];
  try {
    history = readFileSync(HISTORY_FILE, 'utf8').split('\n').filter(Boolean).reverse().slice(0, 500);
  } catch {
    // no history yet
  }
  const rl = createInterface({ input: process.stdin, output: process.stdout, prompt: `audio-stream@${host}:${port}> `, history, historySize: 500 });
  client.onEvent = (frame) => {
    printFrame(frame);
    rl.prompt(true);
  };
  let closedReason: string | undefined;
  client.onClose = (reason) => {
    closedReason = reason;
    rl.close();
  };
  process.stdout.write(`Connected to audio-stream at ${host}:${port}. Type /help for help, /exit to leave.\n`);
  rl.prompt();
  for await (const raw of rl) {
    const line = raw.trim();
    if (line) {
      try { appendFileSync(HISTORY_FILE, `${line}\n`); } catch { /* history is best effort */ }
    }
    if (!line) {
      rl.prompt();
      continue;
    }
    if (['/exit', '/quit', '/bye', '...'].includes(line)) break;
    try {
      if (line === '/help') process.stdout.write(`${CLI_HELP}\n`);
      else if (line.startsWith('/')) {
        const reply = await client.command(line.slice(1));
        process.stdout.write(`${reply.headers.get('reply-text') ?? ''}\n`);
      } else {
        const reply = await client.api(line);
        process.stdout.write(reply.endsWith('\n') ? reply : `${reply}\n`);
      }
    } catch (err) {
      process.stdout.write(`error: ${(err as Error).message}\n`);
    }
    rl.prompt();
  }
  client.close();
  if (closedReason && closedReason !== 'connection closed') {
    process.stderr.write(`audio-stream cli: ${closedReason}\n`);
    return 1;
  }
  return 0;
}
