#!/usr/bin/env node
// Entry point of the `audio-stream` command: loads the TypeScript sources through tsx.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
// Exit as soon as the command is done: nothing left behind (a timer, a lingering socket) may keep
// the process up. stdout and stderr are synchronous for files and pipes on Linux, so no output is lost.
process.exit(await main(process.argv.slice(2)));
