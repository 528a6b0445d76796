// baresip as a real two-way SIP phone: a WAV file as microphone, what it hears dumped to WAV.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Result of one baresip call. */
export interface BaresipResult {
  code: number | null;
  output: string;
  /** WAV files baresip wrote: what it heard (decoded) and what it sent (encoded). */
  heardWav: string | undefined;
  sentWav: string | undefined;
}

/**
 * Calls `uri` from baresip with `sourceWav` (8 kHz mono) as microphone for `seconds`, then quits
 * (sending BYE). `sipPort` is baresip's own SIP port on 127.0.0.1; baresip also listens on TCP
 * there and TLS on the next port, so take ports below the kernel's ephemeral range (32768 up),
 * where no outgoing connection of a concurrent test can hold them, ten apart.
 */
export function baresipCall(opts: { dir: string; uri: string; sourceWav: string; seconds: number; sipPort: number; codec?: string }): Promise<BaresipResult> {
  const cfg = join(opts.dir, 'baresip');
  const dump = join(opts.dir, 'dump');
  mkdirSync(cfg, { recursive: true });
  mkdirSync(dump, { recursive: true });
  writeFileSync(join(cfg, 'config'), [
    `sip_listen 127.0.0.1:${opts.sipPort}`,
    'net_interface 127.0.0.1',
    `audio_source aufile,${opts.sourceWav}`,
    'audio_player aubridge,null',
    'audio_alert aubridge,null',
    'module_path /usr/lib/baresip/modules',
    'module g711.so',
    'module g722.so',
    'module aufile.so',
    'module aubridge.so',
    'module sndfile.so',
    'module_app account.so',
    'module_app menu.so',
    `snd_path ${dump}`,
    '',
  ].join('\n'));
  writeFileSync(join(cfg, 'accounts'), `<sip:bob@127.0.0.1:${opts.sipPort};transport=udp>;regint=0;audio_codecs=${opts.codec ?? 'PCMU/8000/1'}\n`);
  return new Promise((resolve) => {
    const child = spawn('baresip', ['-f', cfg, '-e', `/dial ${opts.uri}`, '-t', String(opts.seconds)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => { output = (output + d).slice(-50000); });
    child.stderr.on('data', (d) => { output = (output + d).slice(-50000); });
    const kill = setTimeout(() => child.kill('SIGKILL'), (opts.seconds + 15) * 1000);
    child.on('close', (code) => {
      clearTimeout(kill);
      const files = readdirSync(dump);
      const pick = (suffix: string) => files.filter((f) => f.endsWith(suffix)).map((f) => join(dump, f)).sort().at(-1);
      resolve({ code, output, heardWav: pick('-dec.wav'), sentWav: pick('-enc.wav') });
    });
  });
}
