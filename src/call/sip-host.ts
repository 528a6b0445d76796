import type { Channel } from '../channel/channel.ts';
import type { ChannelRegistry } from '../channel/registry.ts';
import type { MediaClock } from '../channel/media-clock.ts';
import type { Config } from '../config/config.ts';
import { SipUserAgent } from '../sip/user-agent/user-agent.ts';
import { BurstLog } from '../sip/transport/burst-log.ts';
import type { IncomingCall } from '../sip/dialog/call.ts';
import { RtpSession, PortAllocator, RtpTotals } from '../rtp/index.ts';
import { Logger } from '../lib/logger.ts';
import { SipCall } from './sip-call.ts';

const log = new Logger('sip-host');

/** What a route can match on in a new call. */
export interface IncomingCallInfo {
  destination: string;
  caller: string;
  /** A header of the INVITE by name (case-insensitive), or undefined. */
  header(name: string): string | undefined;
}

/** What accepting calls takes from the service: the runtime's channels, its media clock and its dialplan. */
export interface CallAcceptorDeps {
  channels: ChannelRegistry;
  mediaClock: MediaClock;
  /** Runs the dialplan on a new call's channel; resolves when the route is done. */
  route(channel: Channel, call: IncomingCallInfo): Promise<void>;
}

/** What the SIP host takes from the service. */
export interface SipHostDeps extends CallAcceptorDeps {
  /**
   * The media workers: each new call is handed to one (which runs its media and its dialplan), and
   * `close` hangs up theirs. Without it, calls run on this thread's runtime.
   */
  workers?: {
    dispatch(call: IncomingCall): void;
    hangupAll(cause: 'SYSTEM_SHUTDOWN' | 'MANAGER_REQUEST'): Promise<void>;
  };
}

/**
 * The media side of new calls: opens each call's RTP session (ports from `ports`), makes its
 * SipCall (channel + RTP), negotiates the SDP and runs the dialplan. The SIP host uses one on the
 * main thread; each media worker has its own, with its own slice of the RTP ports.
 */
export class CallAcceptor {
  readonly ports: PortAllocator;
  /** RTP counters over every call accepted here (strict RTP: packets from foreign sources). */
  readonly rtpTotals = new RtpTotals();
  private readonly calls = new Set<SipCall>();
  private readonly rtpFailures: BurstLog;
  private rtpRefusals = 0;

  constructor(private readonly deps: CallAcceptorDeps, private readonly config: Pick<Config, 'sip' | 'rtp'>, ports?: { min: number; max: number }) {
    this.rtpFailures = new BurstLog(log, deps.mediaClock.clock, 'new calls for want of RTP ports');
    this.ports = new PortAllocator(ports?.min ?? config.rtp.portMin, ports?.max ?? config.rtp.portMax);
  }

  /** New calls answered 503 because no RTP port could be opened (the range is in use). */
  get refusedForRtp(): number {
    return this.rtpRefusals;
  }

  /** Live calls. */
  get size(): number {
    return this.calls.size;
  }

  /** Takes a new call: RTP, channel, SDP answer, dialplan (503 when no RTP port is free). */
  async accept(call: IncomingCall): Promise<void> {
    const clock = this.deps.mediaClock.clock;
    const rtp = new RtpSession({ address: this.config.rtp.address, ports: this.ports, now: () => clock.now(), totals: this.rtpTotals });
    try {
      await rtp.open();
    } catch (err) {
      rtp.close();
      const message = (err as Error).message;
      this.rtpRefusals++;
      this.rtpFailures.record('RTP open failures', () => `refusing new calls: cannot open RTP for call ${call.callId}: ${message}`);
      call.reject(503);
      return;
    }
    if (call.state === 'terminated') {
      rtp.close();
      return;
    }
    const sipCall = new SipCall(this.deps.channels, this.deps.mediaClock, call, rtp, {
      rtpAddress: this.config.rtp.address,
      advertisedAddress: this.config.sip.advertisedAddress,
      rtpTimeoutSec: this.config.rtp.timeoutSec,
    });
    const channel = sipCall.channel;
    this.calls.add(sipCall);
    void channel.ended.then(() => this.calls.delete(sipCall));
    if (!sipCall.negotiate()) {
      channel.hangup('INCOMPATIBLE_DESTINATION');
      return;
    }
    await this.deps.route(channel, {
      destination: channel.caller.destinationNumber,
      caller: channel.caller.callerIdNumber,
      header: (name) => call.invite.getHeader(name),
    }).catch((err: Error) => {
      log.error(`route of ${channel.uuid} failed: ${err.message}`);
      channel.hangup('NORMAL_TEMPORARY_FAILURE');
    });
  }

  /** Hangs up every call (BYE or a final response). */
  hangupAll(cause: 'SYSTEM_SHUTDOWN' | 'MANAGER_REQUEST'): void {
    for (const call of [...this.calls]) call.channel.hangup(cause);
  }

  close(): void {
    this.rtpFailures.close();
  }
}

/** Answers SIP calls: one SipCall (channel + RTP) per INVITE, handed to the dialplan, here or in a media worker. */
export class SipHost {
  readonly ua: SipUserAgent;
  /** The calls of this thread (none when media workers take them). */
  readonly media: CallAcceptor;

  constructor(private readonly deps: SipHostDeps, config: Pick<Config, 'sip' | 'rtp'>, uaTimers?: { T1?: number; T2?: number; T4?: number }) {
    const { sip } = config;
    this.ua = new SipUserAgent({
      listen: sip.listen,
      advertisedAddress: sip.advertisedAddress,
      timers: uaTimers,
      admission: {
        maxSessions: sip.maxSessions, sessionsPerSecond: sip.sessionsPerSecond,
        invitesPerSourcePerSecond: sip.invitesPerSourcePerSecond, maxPendingPerSource: sip.maxPendingPerSource,
      },
      tcp: sip.tcp,
    }, { clock: deps.mediaClock.clock }); // one time source per runtime: SIP timers, media and RTP stamps
    this.media = new CallAcceptor(deps, config);
    const workers = deps.workers;
    this.ua.onInvite = workers ? (call) => workers.dispatch(call) : (call) => { void this.media.accept(call); };
  }

  get ports(): PortAllocator {
    return this.media.ports;
  }

  /** RTP counters over the calls of this thread. */
  get rtpTotals(): RtpTotals {
    return this.media.rtpTotals;
  }

  /** New calls answered 503 because no RTP port could be opened (the range is in use). */
  get refusedForRtp(): number {
    return this.media.refusedForRtp;
  }

  /** Live calls of this thread. */
  get size(): number {
    return this.media.size;
  }

  /** Binds SIP (UDP and TCP). */
  async start(): Promise<void> {
    await this.ua.start();
  }

  /** Hangs up every call (BYE or a final response) and stops listening. */
  async close(cause: 'SYSTEM_SHUTDOWN' | 'MANAGER_REQUEST' = 'SYSTEM_SHUTDOWN'): Promise<void> {
    this.media.hangupAll(cause);
    await this.deps.workers?.hangupAll(cause);
    this.media.close();
    await this.ua.close();
  }
}
