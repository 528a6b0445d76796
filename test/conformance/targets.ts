// The two things the conformance suite drives the same way: the real FreeSWITCH 1.10.12 with the C
// module mod_audio_stream (from ../shared/freeswitch), and audio-stream (`audio-stream serve` as a
// child process). Both take SIP calls into a parking dialplan and answer ESL on loopback.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { startServe, writeServeConfig, type ServeProcess } from '../helpers/serve-process.ts';

/** A running system under test. */
export interface Target {
  kind: 'freeswitch' | 'audio-stream';
  sipPort: number;
  eslPort: number;
  eslPassword: string;
  /** SIP user part that reaches "answer, park". */
  parkService: string;
  /** Where play files of this target are written (normalised away in transcripts). */
  tempDir: string;
  stop(): Promise<void>;
}

/** Where the FreeSWITCH bundle is: FREESWITCH_BUNDLE, else ../shared/freeswitch next to the checkout, else /work/shared/freeswitch. */
export function freeswitchBundle(): string | undefined {
  const root = resolve(import.meta.dirname, '../..');
  const candidates = [process.env.FREESWITCH_BUNDLE, resolve(root, '../shared/freeswitch'), '/work/shared/freeswitch'];
  return candidates.find((c): c is string => !!c && existsSync(join(c, 'start.sh')));
}

/** Why the live comparison cannot run here, or undefined when it can. */
export function freeswitchMissing(): string | undefined {
  if (!existsSync('/usr/local/freeswitch/bin/freeswitch')) {
    return 'FreeSWITCH is not installed in /usr/local/freeswitch (.ci/run installs it with ../shared/freeswitch/install.sh)';
  }
  if (!freeswitchBundle()) return 'the FreeSWITCH bundle (../shared/freeswitch with start.sh) is not here';
  if (spawnSync('sipp', ['-v']).error) return 'sipp is not installed';
  return undefined;
}

/** Ports of one FreeSWITCH instance (several may run side by side). */
export interface FreeswitchPorts { sip: number; esl: number; rtpStart: number; rtpEnd: number }

/** Starts the real FreeSWITCH with its `park` dialplan in `runDir`. */
export function startFreeswitch(runDir: string, ports: FreeswitchPorts): Target {
  const bundle = freeswitchBundle();
  if (!bundle) throw new Error('no FreeSWITCH bundle');
  const env = {
    ...process.env, FS_BIND_IP: '127.0.0.1', FS_SIP_PORT: String(ports.sip), FS_ESL_PORT: String(ports.esl),
    FS_RTP_START: String(ports.rtpStart), FS_RTP_END: String(ports.rtpEnd), FS_ESL_PASSWORD: 'ClueCon',
  };
  // A previous run killed hard may have left an instance on these ports.
  spawnSync(join(bundle, 'stop.sh'), [runDir], { env, stdio: 'ignore' });
  try {
    execFileSync(join(bundle, 'start.sh'), [runDir], { env, stdio: ['ignore', 'ignore', 'pipe'], timeout: 60000 });
  } catch (err) {
    spawnSync(join(bundle, 'stop.sh'), [runDir], { env, stdio: 'ignore', timeout: 30000 });
    throw err;
  }
  return {
    kind: 'freeswitch', sipPort: ports.sip, eslPort: ports.esl, eslPassword: 'ClueCon', parkService: 'park',
    tempDir: join(runDir, 'temp'),
    stop: async () => { spawnSync(join(bundle, 'stop.sh'), [runDir], { env, stdio: 'ignore', timeout: 30000 }); },
  };
}

/** Starts `audio-stream serve` with the embedded default route (answer, park) on free ports. */
export async function startAudioStream(dir: string, rtp: { min: number; max: number }): Promise<Target & { serve: ServeProcess }> {
  mkdirSync(dir, { recursive: true });
  const tempDir = join(dir, 'play');
  // The scenarios' files (the prompt WAV) are written beside this dir, by runAll: that is the sound dir.
  const config = writeServeConfig(join(dir, 'audio-stream.yaml'), { rtpPortMin: rtp.min, rtpPortMax: rtp.max, tempDir, soundDirs: [dirname(dir)] });
  const serve = await startServe(['--config', config]);
  return {
    kind: 'audio-stream', sipPort: serve.sipPort, eslPort: serve.eslPort, eslPassword: 'ClueCon', parkService: 'park',
    tempDir, serve,
    stop: async () => { await serve.stop(); },
  };
}
