// `audio-stream serve` as a child process with a config file; its SIP, ESL and HTTP ports are read from its log.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

const BIN = resolve(import.meta.dirname, '../../bin/audio-stream.js');

/** A running service. */
export interface ServeProcess {
  child: ChildProcess;
  sipPort: number;
  eslPort: number;
  httpPort: number;
  output(): string;
  exited: Promise<number | null>;
  stop(): Promise<number | null>;
}

/** What a test's config file for `serve` says: listeners on free loopback ports, an RTP range, a temp dir, routes. */
export interface ServeConfig {
  rtpPortMin: number;
  rtpPortMax: number;
  tempDir: string;
  /** rtp.timeoutSec, when not the default. */
  rtpTimeoutSec?: number;
  /** esl.password, when not the default ClueCon. */
  eslPassword?: string;
  /** The `routes:` list as YAML lines (indented by two), when not the default answer-and-park. */
  routes?: string;
  /** sounds.dirs (where files may be played from), when not the default FreeSWITCH sound directories. */
  soundDirs?: string[];
}

/** Writes a config file for `serve --config` at `path`; returns the path. */
export function writeServeConfig(path: string, c: ServeConfig): string {
  const lines = [
    'sip: { listen: "127.0.0.1:0" }',
    `esl: { listen: "127.0.0.1:0"${c.eslPassword ? `, password: ${c.eslPassword}` : ''} }`,
    'http: { listen: "127.0.0.1:0" }',
    `rtp: { address: 127.0.0.1, portMin: ${c.rtpPortMin}, portMax: ${c.rtpPortMax}${c.rtpTimeoutSec ? `, timeoutSec: ${c.rtpTimeoutSec}` : ''} }`,
    `tempDir: ${c.tempDir}`,
  ];
  if (c.soundDirs) lines.push(`sounds: { dirs: ${JSON.stringify(c.soundDirs)} }`);
  if (c.routes) lines.push('routes:', c.routes.replace(/^\n+|\s+$/g, ''));
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

/**
 * Starts `audio-stream serve` with these arguments and waits until it listens. SERVE_NODE_ARGS (space
 * separated) are given to its node, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile a test's service.
 */
export async function startServe(args: string[], env: Record<string, string> = {}): Promise<ServeProcess> {
  const nodeArgs = (process.env.SERVE_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, BIN, 'serve', ...args], { env: { ...process.env, AUDIO_STREAM_LOG_LEVEL: 'info', ...env } });
  let output = '';
  child.stdout!.on('data', (d) => { output += d; });
  child.stderr!.on('data', (d) => { output += d; });
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  const ports = await new Promise<[number, number, number]>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`serve did not start: ${output}`)), 15000);
    const check = () => {
      const sip = /SIP listening on udp and tcp [\d.]+:(\d+)/.exec(output);
      const other = /Event Socket listening on [\d.:]+?:(\d+); HTTP API on http:\/\/[\d.:]+?:(\d+)/.exec(output);
      if (sip && other) {
        clearTimeout(t);
        res([Number(sip[1]), Number(other[1]), Number(other[2])]);
      }
    };
    child.stderr!.on('data', check);
    void exited.then((code) => { clearTimeout(t); rej(new Error(`serve exited ${code}: ${output}`)); });
  });
  return {
    child, sipPort: ports[0], eslPort: ports[1], httpPort: ports[2], output: () => output, exited,
    stop: async () => {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

/** Runs `audio-stream <args>` to completion. */
export function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [BIN, ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}
