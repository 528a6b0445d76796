import type { Channel, ChannelEndpoint } from '../channel/channel.ts';
import type { ChannelRegistry } from '../channel/registry.ts';
import { causeToSipStatus, type HangupCause } from '../channel/hangup-cause.ts';
import type { MediaClock } from '../channel/media-clock.ts';
import type { IncomingCall } from '../sip/dialog/call.ts';
import { answerOffer, createOffer, acceptAnswer, type NegotiatedMedia } from '../sdp/index.ts';
import type { RtpSession } from '../rtp/index.ts';
import { Logger } from '../lib/logger.ts';

/** Settings a call takes from the configuration. */
export interface SipCallSettings {
  rtpAddress: string;
  advertisedAddress: string;
  /** Hang up after this many seconds without RTP (0 = never). */
  rtpTimeoutSec: number;
}

/** How often (in media ticks) the RTP inactivity timeout is checked. */
const TIMEOUT_CHECK_TICKS = 50;

/**
 * One SIP call leg as a channel: SDP offer/answer, an RTP session and the media tick that moves
 * audio between RTP, the channel's media bugs and its playback queue.
 */
export class SipCall implements ChannelEndpoint {
  readonly channel: Channel;
  private readonly log: Logger;
  private media: NegotiatedMedia | undefined;
  private localSdp: string | undefined;
  /** Our last 2xx carried an offer (an INVITE or re-INVITE without one): the answer comes in the ACK. */
  private offerSent = false;
  private removeTick: (() => void) | undefined;
  private silence = new Int16Array(0);
  private ticks = 0;
  private startedAt = 0;
  private sdpVersion = 1;
  /** True while the remote has the call on hold (its offer was sendonly or inactive). */
  private onHold = false;
  private readonly sessionId = String(Date.now());

  constructor(
    channels: ChannelRegistry,
    private readonly mediaClock: MediaClock,
    private readonly call: IncomingCall,
    private readonly rtp: RtpSession,
    private readonly settings: SipCallSettings,
  ) {
    this.log = new Logger(`sip(${call.callId})`);
    const from = call.from.uri;
    const to = call.to.uri;
    this.channel = channels.create(this, `sofia/internal/${from.user ?? ''}@${from.host}`, { name: 'PCMU', rateHz: 8000, ptimeMs: 20 }, {
      callerIdName: call.from.displayName ?? from.user ?? '',
      callerIdNumber: from.user ?? '',
      destinationNumber: call.requestUri.user ?? to.user ?? '',
      networkAddr: call.source.address,
      source: 'mod_sofia',
      context: 'public',
      username: from.user ?? '',
    });
    this.setSipVariables();
    call.onAck = (sdp) => this.onAck(sdp);
    call.onCancel = () => this.channel.hangup('ORIGINATOR_CANCEL');
    call.onBye = () => this.channel.hangup('NORMAL_CLEARING');
    call.onReinvite = (offer, reply, method) => this.onReinvite(offer, reply, method);
    call.onInfo = (type, body) => this.onInfo(type, body);
    call.onTerminated = (reason) => {
      if (reason === 'ack-timeout') this.channel.hangup('RECOVERY_ON_TIMER_EXPIRE');
      else if (reason === 'transport-error' || reason === 'timeout') this.channel.hangup('RECOVERY_ON_TIMER_EXPIRE');
      else if (reason === 'cancel') this.channel.hangup('ORIGINATOR_CANCEL');
      else this.channel.hangup('NORMAL_CLEARING');
    };
    rtp.onDtmf = (digit, durationMs) => this.channel.dtmf(digit, durationMs, 'RTP');
  }

  private setSipVariables(): void {
    const c = this.call;
    const v = this.channel.variables;
    v.set('sip_call_id', c.callId);
    v.set('sip_from_user', c.from.uri.user ?? '');
    v.set('sip_from_host', c.from.uri.host);
    v.set('sip_to_user', c.to.uri.user ?? '');
    v.set('sip_to_host', c.to.uri.host);
    v.set('sip_req_user', c.requestUri.user ?? '');
    v.set('sip_network_ip', c.source.address);
    v.set('sip_network_port', String(c.source.port));
    v.set('sip_transport', c.source.transport);
    for (const [name, value] of c.invite.headerEntries()) {
      if (/^x-/i.test(name)) v.set(`sip_h_${name}`, value);
    }
  }

  /**
   * Negotiates media for the INVITE: with an offer, prepares the answer; without one, prepares our
   * offer (the answer comes in the ACK). Returns false when no codec fits: the owner then hangs up
   * with INCOMPATIBLE_DESTINATION (488).
   */
  negotiate(): boolean {
    const local = { address: this.settings.advertisedAddress, port: this.rtp.localPort, sessionId: this.sessionId, sessionVersion: this.sdpVersion };
    if (this.call.offer === undefined) {
      this.localSdp = createOffer(local);
      this.offerSent = true;
      return true;
    }
    const result = answerOffer(this.call.offer, local);
    if (!result.ok) {
      // The owner hangs up with INCOMPATIBLE_DESTINATION, which answers 488 (and names the right cause).
      this.log.warning(`rejecting the call: ${result.error.code} (${result.error.message})`);
      return false;
    }
    this.localSdp = result.value.answerSdp;
    this.applyMedia(result.value.media);
    return true;
  }

  private applyMedia(media: NegotiatedMedia): void {
    this.media = media;
    this.rtp.updateRemote(media);
    const codec = media.codec;
    if (codec.name !== this.channel.codec.name || codec.sampleRateHz !== this.channel.codec.rateHz || media.ptimeMs !== this.channel.codec.ptimeMs) {
      this.channel.setCodec({ name: codec.name, rateHz: codec.sampleRateHz, ptimeMs: media.ptimeMs });
      if (this.removeTick) this.startMedia(true);
    }
  }

  /** ChannelEndpoint: 183 Session Progress with SDP. */
  preAnswer(): boolean {
    if (!this.localSdp || this.call.state === 'terminated') return false;
    this.call.progress(183, this.localSdp);
    this.startMedia(false);
    return true;
  }

  /** ChannelEndpoint: 200 OK with SDP. */
  answer(): boolean {
    if (!this.localSdp || this.call.state === 'terminated') return false;
    this.call.answer(this.localSdp);
    this.startMedia(false);
    return true;
  }

  /** ChannelEndpoint: BYE when answered, a final error response before that. */
  hangup(_channel: Channel, cause: HangupCause): void {
    this.stopMedia();
    const st = this.rtp.stats;
    this.log.info(`hangup ${cause}: rtp received ${st.received}, lost ${st.lost}, late ${st.late}, malformed ${st.malformed}, ` +
      `wrong source ${st.wrongSource}, sent ${st.sent}, dtmf ${st.dtmfDigits}`);
    if (this.call.state === 'incoming' || this.call.state === 'early') {
      if (cause === 'ORIGINATOR_CANCEL') this.call.hangup();
      else this.call.reject(causeToSipStatus(cause));
    } else if (this.call.state !== 'terminated') {
      this.call.hangup();
    }
    this.rtp.close();
  }

  /**
   * The ACK of a 2xx that carried our offer brings the answer. Without a usable one the first
   * offer fails the call (INCOMPATIBLE_DESTINATION); a re-offer keeps the media as it was.
   */
  private onAck(sdp: string | undefined): void {
    if (!this.offerSent) return;
    this.offerSent = false;
    const first = this.media === undefined;
    const media = sdp === undefined ? undefined : acceptAnswer(this.localSdp!, sdp);
    if (media?.ok) {
      this.applyMedia(media.value);
      if (!first) this.noteHold(media.value.direction);
      return;
    }
    this.log.warning(sdp === undefined ? 'the ACK carried no SDP answer to our offer' : `bad SDP answer in ACK: ${media!.ok ? '' : media!.error.message}`);
    if (first) this.channel.hangup('INCOMPATIBLE_DESTINATION');
  }

  /** CHANNEL_HOLD / CHANNEL_UNHOLD when the peer's side stops or starts sending to us. */
  private noteHold(direction: NegotiatedMedia['direction']): void {
    const hold = direction !== 'sendrecv';
    if (hold === this.onHold) return;
    this.onHold = hold;
    this.channel.fire(hold ? 'CHANNEL_HOLD' : 'CHANNEL_UNHOLD');
  }

  private onReinvite(offer: string | undefined, reply: (status: number, sdp?: string) => void, method: 'INVITE' | 'UPDATE'): void {
    const local = { address: this.settings.advertisedAddress, port: this.rtp.localPort, sessionId: this.sessionId, sessionVersion: ++this.sdpVersion };
    if (offer === undefined) {
      // RFC 3264 §8: a re-INVITE without an offer asks for ours (our current session description).
      this.offerSent = method === 'INVITE';
      reply(200, this.localSdp);
      return;
    }
    const result = answerOffer(offer, local);
    if (!result.ok) {
      reply(488);
      return;
    }
    const { answerSdp, media } = result.value;
    this.localSdp = answerSdp;
    this.applyMedia(media);
    this.noteHold(media.direction);
    reply(200, answerSdp);
  }

  private onInfo(contentType: string, body: string): void {
    const type = contentType.toLowerCase();
    if (type.startsWith('application/dtmf-relay')) {
      const signal = /Signal\s*=\s*([0-9A-D*#])/i.exec(body)?.[1];
      const duration = Number(/Duration\s*=\s*(\d+)/i.exec(body)?.[1] ?? 250);
      if (signal) this.channel.dtmf(signal.toUpperCase(), duration, 'ENDPOINT');
    } else if (type.startsWith('application/dtmf')) {
      const digit = body.trim()[0];
      if (digit && /[0-9A-D*#]/i.test(digit)) this.channel.dtmf(digit.toUpperCase(), 250, 'ENDPOINT');
    }
  }

  private startMedia(restart: boolean): void {
    if (this.removeTick && !restart) return;
    this.removeTick?.();
    const { ptimeMs, rateHz } = this.channel.codec;
    this.silence = new Int16Array((rateHz * ptimeMs) / 1000);
    this.startedAt = this.mediaClock.clock.now();
    this.removeTick = this.mediaClock.add(ptimeMs, (due) => this.onTick(due));
  }

  private stopMedia(): void {
    this.removeTick?.();
    this.removeTick = undefined;
  }

  /** One packet time: RTP in -> media bugs <- playback -> RTP out. */
  private onTick(dueMs: number): void {
    const channel = this.channel;
    const read = this.rtp.pullFrame();
    const write = channel.playback.nextFrame(this.silence.length);
    channel.processFrame(read, write, dueMs);
    this.rtp.sendFrame(write ?? this.silence);
    if (++this.ticks % TIMEOUT_CHECK_TICKS === 0) this.checkTimeout(dueMs);
  }

  private checkTimeout(nowMs: number): void {
    const limitMs = this.settings.rtpTimeoutSec * 1000;
    if (limitMs <= 0 || this.media?.direction === 'inactive') return;
    if (nowMs - Math.max(this.rtp.lastReceivedAt, this.startedAt) > limitMs) {
      this.log.warning(`no RTP for ${this.settings.rtpTimeoutSec} s: hanging up`);
      this.channel.hangup('MEDIA_TIMEOUT');
    }
  }
}
