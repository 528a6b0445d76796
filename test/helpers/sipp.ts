// SIPp as a real SIP phone: scenario builders and a runner. SIPp comes from Debian's sip-tester.
import { spawn, execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const SDP = `v=0
o=sipp 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [rtpstream_audio_port] RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=ptime:20
__DIRECTION__`;

function headers(method: string, cseq: number, branch = '[branch]', toTag = '[peer_tag_param]'): string {
  return `${method} sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=${branch}
From: "SIPp Caller" <sip:1000@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>${toTag}
Call-ID: [call_id]
CSeq: ${cseq} ${method}
Contact: <sip:1000@[local_ip]:[local_port];transport=[transport]>
Max-Forwards: 70`;
}

/** Our 200 OK to the request just received (a BYE from the service). */
const OK_TO_LAST_REQUEST = `  <send><![CDATA[

SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

  ]]></send>
`;

function send(text: string, retrans = true): string {
  return `  <send${retrans ? ' retrans="500"' : ''}><![CDATA[\n\n${text}\n\n  ]]></send>\n`;
}

function invite(cseq: number, direction = '', inDialog = false, extra = 'X-Test-Case: sipp-[call_number]', ptimeMs = 20): string {
  const sdp = SDP.replace('__DIRECTION__', direction ? `a=${direction}` : '').replace('a=ptime:20', `a=ptime:${ptimeMs}`);
  return send(`${headers('INVITE', cseq, '[branch]', inDialog ? '[peer_tag_param]' : '')}
${extra}
Content-Type: application/sdp
Content-Length: [len]

${sdp}`);
}

function ack(cseq: number, branch = '[branch]', toTag = '[peer_tag_param]'): string {
  return send(`${headers('ACK', cseq, branch, toTag)}\nContent-Length: 0`, false);
}

function answered(): string {
  return `  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true"/>
`;
}

function bye(cseq: number): string {
  return `${send(`${headers('BYE', cseq)}\nContent-Length: 0`)}  <recv response="200" crlf="true"/>\n`;
}

function scenario(name: string, body: string): string {
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="${name}">\n${body}</scenario>\n`;
}

/** Calls, streams a raw mu-law file as RTP for `holdMs` after answer, then hangs up. */
export function streamScenario(ulawFile: string, holdMs: number): string {
  return scenario('stream', `${invite(1)}${answered()}${ack(1)}  <nop><action><exec rtp_stream="${ulawFile},1,0"/></action></nop>
  <pause milliseconds="${holdMs}"/>
${bye(2)}`);
}

/** Calls and sends the Debian DTMF pcap (RFC 4733 digits) as RTP, then hangs up. */
export function dtmfScenario(pcapFile: string, holdMs: number): string {
  return scenario('dtmf', `${invite(1)}${answered()}${ack(1)}  <nop><action><exec play_pcap_audio="${pcapFile}"/></action></nop>
  <pause milliseconds="${holdMs}"/>
${bye(2)}`);
}

/** Calls, then sends DTMF digit `digit` as SIP INFO (application/dtmf-relay), then hangs up. */
export function infoDtmfScenario(digit: string): string {
  const body = `Signal=${digit}\r\nDuration=160\r\n`;
  return scenario('info-dtmf', `${invite(1)}${answered()}${ack(1)}  <pause milliseconds="300"/>
${send(`${headers('INFO', 2)}\nContent-Type: application/dtmf-relay\nContent-Length: [len]\n\n${body}`)}  <recv response="200"/>
  <pause milliseconds="300"/>
${bye(3)}`);
}

/** One step of dtmfSequenceScenario: an RFC 4733 digit replayed from a pcap, a SIP INFO digit, or a pause. */
export type DtmfStep = { pcap: string } | { info: string; durationMs: number } | { pauseMs: number };

/**
 * Calls, then takes the steps in order: a pcap is replayed as RTP (SIPp plays it in the background:
 * follow it with a pause longer than the pcap), an INFO digit is sent as application/dtmf-relay and
 * its 200 awaited; then hangs up.
 */
export function dtmfSequenceScenario(steps: DtmfStep[]): string {
  let cseq = 2;
  let body = '';
  for (const step of steps) {
    if ('pcap' in step) {
      body += `  <nop><action><exec play_pcap_audio="${step.pcap}"/></action></nop>\n`;
    } else if ('info' in step) {
      const info = `Signal=${step.info}\r\nDuration=${step.durationMs}\r\n`;
      body += `${send(`${headers('INFO', cseq++)}\nContent-Type: application/dtmf-relay\nContent-Length: [len]\n\n${info}`)}  <recv response="200"/>\n`;
    } else {
      body += `  <pause milliseconds="${step.pauseMs}"/>\n`;
    }
  }
  return scenario('dtmf-sequence', `${invite(1)}${answered()}${ack(1)}${body}${bye(cseq)}`);
}

/** Calls, sends no RTP at all, and waits for the callee's BYE (the RTP inactivity timeout). */
export function silentCallerScenario(timeoutMs: number): string {
  return scenario('silent', `${invite(1)}${answered()}${ack(1)}  <recv request="BYE" timeout="${timeoutMs}"/>
${OK_TO_LAST_REQUEST}`);
}

/** Calls with an INVITE without SDP (late offer): takes our offer from the 200, answers in the ACK, streams, hangs up. */
export function lateOfferScenario(ulawFile: string, holdMs: number): string {
  const sdp = SDP.replace('__DIRECTION__', '');
  return scenario('late-offer', `${send(`${headers('INVITE', 1, '[branch]', '')}\nContent-Length: 0`)}${answered()}${send(`${headers('ACK', 1)}
Content-Type: application/sdp
Content-Length: [len]

${sdp}`, false)}  <nop><action><exec rtp_stream="${ulawFile},1,0"/></action></nop>
  <pause milliseconds="${holdMs}"/>
${bye(2)}`);
}

/** Calls, waits for a ringing or progress answer, cancels, expects 200 (CANCEL) and 487 (INVITE). */
export function cancelScenario(waitMs: number): string {
  return scenario('cancel', `${invite(1)}  <recv response="100"/>
  <pause milliseconds="${waitMs}"/>
${send(`${headers('CANCEL', 1, '[branch-3]', '')}\nContent-Length: 0`)}  <recv response="200"/>
  <recv response="487"/>
${ack(1, '[branch-6]', '[peer_tag_param]')}`);
}

/** Calls, streams, puts the call on hold (sendonly), resumes (sendrecv), hangs up. */
export function holdScenario(ulawFile: string, stepMs: number): string {
  return scenario('hold', `${invite(1)}${answered()}${ack(1)}  <nop><action><exec rtp_stream="${ulawFile},1,0"/></action></nop>
  <pause milliseconds="${stepMs}"/>
${invite(2, 'sendonly', true)}  <recv response="100" optional="true"/>
  <recv response="200"/>
${ack(2)}  <pause milliseconds="${stepMs}"/>
${invite(3, 'sendrecv', true)}  <recv response="100" optional="true"/>
  <recv response="200"/>
${ack(3)}  <pause milliseconds="${stepMs}"/>
${bye(4)}`);
}

/** Calls, streams, and waits for the callee's BYE (answered 200). */
export function calleeHangsUpScenario(ulawFile: string, timeoutMs: number): string {
  return scenario('callee-bye', `${invite(1)}${answered()}${ack(1)}  <nop><action><exec rtp_stream="${ulawFile},1,0"/></action></nop>
  <recv request="BYE" timeout="${timeoutMs}"/>
${OK_TO_LAST_REQUEST}`);
}

/**
 * Calls offering PCMU at `ptimeMs` with `mediaPort` in the SDP (the test's own RTP socket sends
 * and receives there: SIPp's pcap replay sends from source port 0, which FreeSWITCH drops), writes
 * the callee's RTP port from the 200's SDP into `portFile`, and waits for the callee's BYE.
 */
export function externalRtpScenario(mediaPort: number, ptimeMs: number, portFile: string, timeoutMs: number, testCase = 'sipp-[call_number]'): string {
  const inv = invite(1, '', false, `X-Test-Case: ${testCase}`, ptimeMs).replace('[rtpstream_audio_port]', String(mediaPort));
  return scenario('external-rtp', `${inv}  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true"><action><ereg regexp="m=audio ([0-9]+)" search_in="body" check_it="true" assign_to="whole,port"/></action></recv>
  <Reference variables="whole"/>
${ack(1)}  <nop><action><exec command="echo [$port] > ${portFile}"/></action></nop>
  <recv request="BYE" timeout="${timeoutMs}"/>
${OK_TO_LAST_REQUEST}`);
}

/** Result of a SIPp run. */
export interface SippResult { code: number | null; stdout: string; stderr: string }

/** Runs SIPp as a client against `target` with a scenario written to `dir`; resolves when it exits. */
export async function runSipp(opts: { dir: string; name: string; scenario: string; target: string; service: string; transport?: 'u1' | 't1';
  calls?: number; rate?: number; limit?: number; timeoutSec?: number; localPort?: number; mediaPort?: number }): Promise<SippResult> {
  const file = join(opts.dir, `${opts.name}.xml`);
  writeFileSync(file, opts.scenario);
  const calls = opts.calls ?? 1;
  const localPort = opts.localPort ?? (opts.mediaPort ?? 40000) + 1500;
  // The fixed ports lie in the ephemeral range, where another test's connection may hold one for a
  // moment: SIPp then exits at once, before sending anything, and runs again on the next port.
  for (let attempt = 0; ; attempt++) {
    const args = [opts.target, '-sf', file, '-s', opts.service, '-i', '127.0.0.1', '-mi', '127.0.0.1', '-m', String(calls),
      '-l', String(opts.limit ?? calls), '-r', String(opts.rate ?? 10), '-nostdin', '-timeout', `${opts.timeoutSec ?? 30}s`,
      ...(process.env.SIPP_TRACE ? ['-trace_msg', '-message_file', join(opts.dir, `${opts.name}-messages.log`)] : []), '-trace_err', '-error_file', join(opts.dir, `${opts.name}-errors.log`), '-t', opts.transport ?? 'u1',
      '-p', String(localPort + 7 * attempt), '-mp', String(opts.mediaPort ?? 40000)];
    const result = await new Promise<SippResult>((resolve) => {
      const child = spawn('sipp', args, { cwd: opts.dir, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => { stdout = (stdout + d).slice(-20000); });
      child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-20000); });
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    if (attempt >= 3 || !/Unable to bind main socket/.test(result.stderr + result.stdout)) return result;
  }
}

/** Fails loudly when a peer program is missing (interop tests are never skipped). */
export function requireProgram(name: string): void {
  try {
    execFileSync('which', [name], { stdio: 'ignore' });
  } catch {
    throw new Error(`${name} is not installed: npm test installs it (scripts/test.sh); run it or apt-get install the package`);
  }
}
