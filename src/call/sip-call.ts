import type { CallerProfile, Channel, ChannelEndpoint } from '../channel/channel.ts';
import type { ChannelRegistry } from '../channel/registry.ts';
import { causeToSipStatus, HANGUP_CAUSES, type HangupCause } from '../channel/hangup-cause.ts';
import type { MediaClock } from '../channel/media-clock.ts';
import type { IncomingCall } from '../sip/dialog/call.ts';
import type { SipMessage } from '../sip/message/message.ts';
import { parseNameAddr, type NameAddr } from '../sip/message/name-addr.ts';
import { unescapeUriPart, type SipUri } from '../sip/message/uri.ts';
import type { Params } from '../sip/message/grammar.ts';
import { answerOffer, createOffer, acceptAnswer, parseSdp, type MediaDirection, type NegotiatedMedia } from '../sdp/index.ts';
import type { RtpSession } from '../rtp/index.ts';
import { Logger } from '../lib/logger.ts';

/** Distinct sip_h_X-* variables a call may collect over its INVITE and re-INVITEs. */
const MAX_X_HEADER_VARIABLES = 200;

/** Settings a call takes from the configuration. */
export interface SipCallSettings {
  rtpAddress: string;
  advertisedAddress: string;
  /** Hang up after this many seconds without RTP (0 = never). */
  rtpTimeoutSec: number;
}

/** How often (in media ticks) the RTP inactivity timeout is checked. */
const TIMEOUT_CHECK_TICKS = 50;

/** The profile name in our channel names (`sofia/internal/<from user>@<from host>[:<port>]`). */
const PROFILE = 'internal';

/** The codecs we negotiate, in our order (rtp_use_codec_string). */
const CODEC_STRING = 'PCMU,PCMA,G722,L16';

const DIRECTIONS = new Set<string>(['sendrecv', 'sendonly', 'recvonly', 'inactive']);

/** `address:port`, an IPv6 address in brackets. */
function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** A URI parameter list as text (`transport=UDP;lr`), as sofia's url_params. */
function paramsText(params: Params): string {
  return [...params].map(([k, v]) => (v === null ? k : `${k}=${v}`)).join(';');
}

/** `user@host[:port]` as url_set_chanvars makes it (`nobody` without a user). */
function uriText(uri: SipUri): string {
  return `${uriUser(uri)}@${uri.host}${uri.port !== undefined ? `:${uri.port}` : ''}`;
}

function uriUser(uri: SipUri): string {
  return uri.user !== undefined && uri.user !== '' ? unescapeUriPart(uri.user) : 'nobody';
}

/**
 * The caller profile's privacy flags (sofia_handle_sip_i_invite): `Privacy: id` hides name and
 * number; a Remote-Party-ID's privacy=yes|full|name|number hides them, its screen=no clears the
 * screen bit.
 */
function privacyOf(invite: SipMessage): Pick<CallerProfile, 'screenBit' | 'privacyHideName' | 'privacyHideNumber'> {
  const flags = { screenBit: true, privacyHideName: false, privacyHideNumber: false };
  const rpidText = invite.getHeader('remote-party-id');
  let rpid: NameAddr | undefined;
  try {
    rpid = rpidText === undefined ? undefined : parseNameAddr(rpidText.split(',')[0]!);
  } catch {
    rpid = undefined;
  }
  const privacy = rpid?.params.get('privacy')?.toLowerCase();
  if (privacy === 'yes' || privacy === 'full') [flags.privacyHideName, flags.privacyHideNumber] = [true, true];
  else if (privacy === 'name') flags.privacyHideName = true;
  else if (privacy === 'number') flags.privacyHideNumber = true;
  if (rpid?.params.get('screen')?.toLowerCase() === 'no') flags.screenBit = false;
  const values = invite.getHeaders('privacy').flatMap((v) => v.split(/[;,]/)).map((v) => v.trim().toLowerCase());
  if (values.includes('id')) [flags.privacyHideName, flags.privacyHideNumber] = [true, true];
  return flags;
}

/** The direction of the first m= section of this type (port not 0), else inactive: remote_*_media_flow. */
function remoteFlow(sdp: string, type: string): MediaDirection {
  let parsed;
  try {
    parsed = parseSdp(sdp);
  } catch {
    return 'inactive';
  }
  const m = parsed.media.find((d) => d.type === type && d.port !== 0);
  if (!m) return 'inactive';
  for (const list of [m.attributes, parsed.attributes]) {
    for (const a of list) if (a.value === null && DIRECTIONS.has(a.name)) return a.name as MediaDirection;
  }
  return 'sendrecv';
}

/**
 * One SIP call leg as a channel: SDP offer/answer, an RTP session and the media tick that moves
 * audio between RTP, the channel's media bugs and its playback queue.
 */
export class SipCall implements ChannelEndpoint {
  private ch!: Channel;
  /** Named after the Call-ID; its lines carry the channel's uuid (User-Data) once the channel exists. */
  private log: Logger;
  private media: NegotiatedMedia | undefined;
  private localSdp: string | undefined;
  /** Our last 2xx carried an offer (an INVITE or re-INVITE without one): the answer comes in the ACK. */
  private offerSent = false;
  private removeTick: (() => void) | undefined;
  private silence = new Int16Array(0);
  private ticks = 0;
  private startedAt = 0;
  private sdpVersion = 1;
  private readonly sessionId = String(Date.now());
  /** The result of negotiating the INVITE (its offer answered, or our offer made), done before CHANNEL_CREATE. */
  private negotiated = false;
  /** The local media variables were set (the first 183 or 200). */
  private mediaVariablesSet = false;
  private gotBye = false;
  /** The sip_h_X-* variables set so far (at most MAX_X_HEADER_VARIABLES). */
  private readonly xHeaderNames = new Set<string>();
  private gotCancel = false;

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
    const user = from.user !== undefined ? unescapeUriPart(from.user) : '';
    channels.create(this, `sofia/${PROFILE}/${uriText(from)}`, { name: 'PCMU', rateHz: 8000, ptimeMs: 20 }, {
      callerIdName: call.from.displayName || user,
      callerIdNumber: user,
      destinationNumber: call.requestUri.user !== undefined ? unescapeUriPart(call.requestUri.user) : to.user ?? '',
      networkAddr: call.source.address,
      source: 'mod_sofia',
      username: user,
      ...privacyOf(call.invite),
    }, undefined, (channel) => {
      // Before CHANNEL_CREATE, as sofia does for an INVITE: its variables, then the SDP's.
      this.ch = channel;
      this.log = new Logger(`sip(${call.callId})`, channel.uuid);
      this.setSipVariables();
      this.negotiated = this.negotiateInvite();
      channel.setVariable('endpoint_disposition', 'RECEIVED');
    });
    call.onAck = (sdp, ack) => this.onAck(sdp, ack);
    call.onCancel = () => {
      this.gotCancel = true;
      this.channel.setVariable('sip_hangup_disposition', 'recv_cancel');
      this.channel.setVariable('sip_invite_failure_status', '487');
      this.channel.setVariable('sip_invite_failure_phrase', 'CANCEL');
      this.channel.hangup('ORIGINATOR_CANCEL');
    };
    call.onBye = () => {
      // sofia_handle_sip_i_bye: the status we answer and its cause (a Reason header is not read).
      this.gotBye = true;
      this.channel.setVariable('sip_term_status', '200');
      this.channel.setVariable('proto_specific_hangup_cause', 'sip:200');
      this.channel.setVariable('sip_term_cause', String(HANGUP_CAUSES.NORMAL_CLEARING));
      this.channel.hangup('NORMAL_CLEARING');
    };
    call.onReinvite = (offer, reply, method, req) => this.onReinvite(offer, reply, method, req);
    call.onInfo = (type, body) => this.onInfo(type, body);
    call.onTerminated = (reason) => {
      if (reason === 'ack-timeout') this.channel.hangup('RECOVERY_ON_TIMER_EXPIRE');
      else if (reason === 'transport-error' || reason === 'timeout') this.channel.hangup('RECOVERY_ON_TIMER_EXPIRE');
      else if (reason === 'cancel') this.channel.hangup('ORIGINATOR_CANCEL');
      else this.channel.hangup('NORMAL_CLEARING');
    };
    rtp.onDtmf = (digit, durationMs) => this.channel.dtmf(digit, durationMs, 'RTP');
    // Strict RTP: a line when the source is learned (once per start of media or change of the remote
    // media) and when a foreign source is first seen (once per source, a few sources per call).
    rtp.onSourceLearned = (address, port, signalled) => {
      const sdp = rtp.media?.remote;
      if (signalled) this.log.debug(`RTP source ${hostPort(address, port)} learned: the SDP's address`);
      else this.log.info(`RTP source ${hostPort(address, port)} learned from ${rtp.probation} consecutive packets (the SDP said ${sdp ? hostPort(sdp.address, sdp.port) : 'nothing'})`);
    };
    rtp.onForeignSource = (address, port, last) => {
      const learned = rtp.remote;
      this.log.warning(`RTP from ${hostPort(address, port)} dropped: not the call's source ${learned ? hostPort(learned.address, learned.port) : ''} (strict RTP)` +
        (last ? '; further foreign sources of this call are counted, not logged' : ''));
    };
  }

  /** The call's channel. */
  get channel(): Channel {
    return this.ch;
  }

  /**
   * The INVITE's variables, in the order sofia sets them (sofia_handle_sip_i_invite,
   * url_set_chanvars, extract_header_vars): From, media flows, channel name, Call-ID, where it came
   * from, From's parameters, Via/From/To as received, Request-URI, To, Contact, Via, Max-Forwards,
   * the X- headers and Privacy.
   */
  private setSipVariables(): void {
    const c = this.call;
    const invite = c.invite;
    const ch = this.channel;
    const set = (name: string, value: string | number | undefined): void => ch.setVariable(name, value === undefined ? undefined : String(value));
    const uriVars = (prefix: string, uri: SipUri): void => {
      if (uri.params.size > 0) set(`${prefix}_params`, paramsText(uri.params));
      set(`${prefix}_user`, uriUser(uri));
      set(`${prefix}_port`, uri.port);
      set(`${prefix}_uri`, uriText(uri));
      set(`${prefix}_host`, uri.host);
    };
    const headerParams = (prefix: string, params: Params): void => {
      for (const [k, v] of params) set(`${prefix}_${k}`, v || undefined);
    };
    uriVars('sip_from', c.from.uri);
    set('video_media_flow', 'disabled');
    set('text_media_flow', 'disabled');
    set('channel_name', ch.name);
    set('sip_call_id', c.callId);
    set('sip_local_network_addr', this.settings.advertisedAddress);
    set('sip_network_ip', c.source.address);
    set('sip_network_port', c.source.port);
    set('sip_invite_stamp', ch.createdAtUs.toString());
    set('sip_received_ip', c.source.address);
    set('sip_received_port', c.source.port);
    set('sip_via_protocol', (invite.via[0]?.transport ?? c.source.transport).toLowerCase());
    const fromUser = c.from.uri.user !== undefined ? unescapeUriPart(c.from.uri.user) : '';
    if (fromUser) set('sip_from_user_stripped', fromUser.startsWith('+') ? fromUser.slice(1) : fromUser);
    headerParams('sip_from', c.from.params);
    this.setHeaderVariables(invite);
    uriVars('sip_req', c.requestUri);
    uriVars('sip_to', c.to.uri);
    headerParams('sip_to', c.to.params);
    const contact = invite.getHeader('contact');
    if (contact !== undefined) {
      try {
        uriVars('sip_contact', parseNameAddr(contact.split(',')[0]!).uri);
      } catch {
        // a Contact we cannot parse sets nothing
      }
    }
    set('sip_subject', invite.getHeader('subject'));
    set('sip_user_agent', invite.getHeader('user-agent'));
    const via = invite.via[0];
    if (via) {
      set('sip_via_host', via.host);
      set('sip_via_port', via.port);
      // rport as the phone wrote it (the user agent has filled ours in since).
      const rport = /;\s*rport\s*=\s*(\d+)/i.exec(invite.viaValues[0] ?? '')?.[1];
      if (rport) set('sip_via_rport', rport);
    }
    const maxForwards = invite.getHeader('max-forwards');
    if (maxForwards !== undefined && /^\d+$/.test(maxForwards.trim())) set('max_forwards', String(Number(maxForwards.trim())));
    this.setXHeaderVariables(invite, true);
    const privacy = invite.getHeaders('privacy');
    if (privacy.length > 0) set('sip_Privacy', privacy.join(', '));
  }

  /**
   * sip_h_<name> for every X- header; in the INVITE a repeated one is numbered (`sip_h_X-A-1`), as
   * sofia does with its unknown headers.
   */
  private setXHeaderVariables(msg: SipMessage, numberRepeats: boolean): void {
    const ch = this.channel;
    const seen = new Set<string>();
    for (const [name, value] of msg.headerEntries()) {
      if (!/^x-/i.test(name) || value === '') continue;
      let key = `sip_h_${name}`;
      if (numberRepeats) for (let n = 1; seen.has(key); n++) key = `sip_h_${name}-${n}`;
      seen.add(key);
      // Re-INVITEs with new X- headers each time must not grow the channel (and every event) for ever.
      if (!this.xHeaderNames.has(key)) {
        if (this.xHeaderNames.size >= MAX_X_HEADER_VARIABLES) continue;
        this.xHeaderNames.add(key);
      }
      ch.setVariable(key, value);
    }
  }

  /**
   * extract_header_vars: the route set, the Via list, From and To as received (for the INVITE and
   * again for the ACK, after the tags, CSeq and Call-ID).
   */
  private setHeaderVariables(msg: SipMessage): void {
    const ch = this.channel;
    const routes = msg.getList('route');
    if (routes.length > 0 && !ch.variables.has('sip_full_route')) ch.setVariable('sip_full_route', routes.join(','));
    const recordRoutes = msg.getList('record-route');
    if (recordRoutes.length > 0) {
      ch.setVariable('sip_invite_route_uri', recordRoutes.join(','));
      ch.setVariable('sip_invite_record_route', [...recordRoutes].reverse().join(','));
    }
    ch.setVariable('sip_full_via', msg.viaValues.join(','));
    ch.setVariable('sip_from_display', msg.from.displayName);
    ch.setVariable('sip_full_from', msg.from.raw);
    ch.setVariable('sip_to_display', msg.to.displayName);
    ch.setVariable('sip_full_to', msg.to.raw);
  }

  /**
   * Our media's variables when it starts (sofia_media_activate_rtp, before the 183 or 200 is
   * announced): our SDP, where we receive, what we send, RFC 4733 payload types, the peer again.
   */
  private setLocalMediaVariables(): void {
    const ch = this.channel;
    ch.setVariable('rtp_local_sdp_str', this.localSdp);
    ch.setVariable('local_media_ip', this.settings.rtpAddress);
    ch.setVariable('local_media_port', String(this.rtp.localPort));
    ch.setVariable('advertised_media_ip', this.settings.advertisedAddress);
    const media = this.media;
    if (!media) return;
    ch.setVariable('rtp_use_pt', String(media.codec.payloadType));
    if (this.rtp.ssrc) ch.setVariable('rtp_use_ssrc', String(this.rtp.ssrc));
    if (media.telephoneEvent) {
      ch.setVariable('rtp_2833_send_payload', String(media.telephoneEvent.payloadType));
      ch.setVariable('rtp_2833_recv_payload', String(media.telephoneEvent.payloadType));
    }
    ch.setVariable('remote_media_ip', media.remote.address);
    ch.setVariable('remote_media_port', String(media.remote.port));
  }

  /**
   * The media negotiation of the INVITE, done while the channel was made (before CHANNEL_CREATE):
   * with an offer, the answer is prepared; without one, our offer (the answer comes in the ACK).
   * False when no codec fits: the owner then hangs up with INCOMPATIBLE_DESTINATION (488).
   */
  negotiate(): boolean {
    return this.negotiated;
  }

  private negotiateInvite(): boolean {
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
    this.applyMedia(result.value.media, this.call.offer, false);
    return true;
  }

  /**
   * Takes negotiated media (the INVITE's offer, the answer in an ACK, a re-offer) and sets the SDP's
   * variables in sofia's order (switch_core_media_negotiate_sdp): the remote SDP, our codec list,
   * the media flows both ways; then, for a re-offer, the hold change; where the peer receives, the
   * payload type, the codec when it is the first or a new one, DTMF, and the RFC 4733 payload types
   * once RTP runs.
   */
  private applyMedia(media: NegotiatedMedia, remoteSdp: string, reoffer: boolean): void {
    this.media = media;
    this.rtp.updateRemote(media);
    const ch = this.channel;
    const codec = media.codec;
    ch.setVariable('switch_r_sdp', remoteSdp);
    ch.setVariable('rtp_use_codec_string', CODEC_STRING);
    ch.setVariable('remote_video_media_flow', remoteFlow(remoteSdp, 'video'));
    ch.setVariable('remote_text_media_flow', remoteFlow(remoteSdp, 'text'));
    ch.setVariable('remote_audio_media_flow', remoteFlow(remoteSdp, 'audio'));
    ch.setVariable('audio_media_flow', media.direction);
    if (reoffer) this.noteHold(media.direction);
    ch.setVariable('remote_media_ip', media.remote.address);
    ch.setVariable('remote_media_port', String(media.remote.port));
    ch.setVariable('rtp_audio_recv_pt', String(codec.payloadType));
    const changed = codec.name !== ch.codec.name || codec.sampleRateHz !== ch.codec.rateHz || media.ptimeMs !== ch.codec.ptimeMs;
    if (changed || !ch.variables.has('read_codec')) {
      ch.setVariable('rtp_use_codec_name', codec.name);
      ch.setVariable('rtp_use_codec_rate', String(codec.clockRateHz));
      ch.setVariable('rtp_use_codec_ptime', String(media.ptimeMs));
      ch.setVariable('rtp_use_codec_channels', String(codec.channels));
      ch.setVariable('rtp_last_audio_codec_string', `${codec.name}@${codec.clockRateHz}h@${media.ptimeMs}i@${codec.channels}c`);
      ch.setCodec({ name: codec.name, rateHz: codec.sampleRateHz, ptimeMs: media.ptimeMs });
    }
    if (changed && this.removeTick) this.startMedia(true);
    // With telephone-event we take RFC 4733; without, SIP INFO (FreeSWITCH's rtp_info_when_no_2833).
    ch.setVariable('dtmf_type', media.telephoneEvent ? 'rfc2833' : 'info');
    if (this.mediaVariablesSet && media.telephoneEvent) {
      ch.setVariable('rtp_2833_send_payload', String(media.telephoneEvent.payloadType));
      ch.setVariable('rtp_2833_recv_payload', String(media.telephoneEvent.payloadType));
    }
  }

  /** ChannelEndpoint: 183 Session Progress with SDP. */
  preAnswer(): boolean {
    if (!this.localSdp || this.call.state === 'terminated') return false;
    this.startMedia(false);
    this.noteLocalMedia();
    this.call.progress(183, this.localSdp);
    return true;
  }

  /** ChannelEndpoint: 200 OK with SDP. */
  answer(): boolean {
    if (!this.localSdp || this.call.state === 'terminated') return false;
    this.startMedia(false);
    this.noteLocalMedia();
    this.call.answer(this.localSdp);
    return true;
  }

  private noteLocalMedia(): void {
    if (this.mediaVariablesSet) return;
    this.mediaVariablesSet = true;
    this.setLocalMediaVariables();
  }

  /** ChannelEndpoint: a BYE we received ends the call (sofia notes it right after CHANNEL_HANGUP). */
  hangupFired(channel: Channel): void {
    if (this.gotBye) channel.setVariable('sip_hangup_disposition', 'recv_bye');
  }

  /** ChannelEndpoint: the RTP counters, as the last variables before CHANNEL_HANGUP_COMPLETE. */
  reporting(channel: Channel): void {
    const st = this.rtp.stats;
    channel.setVariable('rtp_audio_in_packet_count', String(st.received));
    channel.setVariable('rtp_audio_out_packet_count', String(st.sent));
  }

  /** ChannelEndpoint: BYE when answered, a final error response before that. */
  hangup(channel: Channel, cause: HangupCause): void {
    this.stopMedia();
    if (!this.gotBye && !this.gotCancel) {
      const answered = this.call.state === 'confirmed';
      channel.setVariable('sip_hangup_disposition', answered ? 'send_bye' : 'send_refuse');
    }
    const st = this.rtp.stats;
    this.log.info(`hangup ${cause}: rtp received ${st.received}, lost ${st.lost}, late ${st.late}, malformed ${st.malformed}, ` +
      `foreign ${st.foreign}, stray ${st.stray}, sent ${st.sent}, dtmf ${st.dtmfDigits}`);
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
  private onAck(sdp: string | undefined, ack: SipMessage): void {
    // sofia's ready state: the ACK's tags, CSeq, Call-ID, then its Via, From and To.
    const ch = this.channel;
    ch.setVariable('sip_to_tag', ack.to.params.get('tag') ?? undefined);
    ch.setVariable('sip_from_tag', ack.from.params.get('tag') ?? undefined);
    ch.setVariable('sip_cseq', String(ack.cseq.seq));
    ch.setVariable('sip_call_id', ack.callId);
    this.setHeaderVariables(ack);
    if (!this.offerSent) return;
    this.offerSent = false;
    const first = this.media === undefined;
    const media = sdp === undefined ? undefined : acceptAnswer(this.localSdp!, sdp);
    if (media?.ok) {
      this.applyMedia(media.value, sdp!, !first);
      if (first) this.setLocalMediaVariables();
      return;
    }
    this.log.warning(sdp === undefined ? 'the ACK carried no SDP answer to our offer' : `bad SDP answer in ACK: ${media!.ok ? '' : media!.error.message}`);
    if (first) this.channel.hangup('INCOMPATIBLE_DESTINATION');
  }

  /** CHANNEL_HOLD / CHANNEL_UNHOLD (and the call state HELD) when the peer's side stops or starts sending to us. */
  private noteHold(direction: NegotiatedMedia['direction']): void {
    this.channel.setHold(direction !== 'sendrecv');
  }

  private onReinvite(offer: string | undefined, reply: (status: number, sdp?: string) => void, method: 'INVITE' | 'UPDATE', req: SipMessage): void {
    // A re-INVITE's X- headers set their variables again (as sofia does).
    if (method === 'INVITE') this.setXHeaderVariables(req, false);
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
    this.applyMedia(media, offer, true);
    this.channel.setVariable('rtp_local_sdp_str', answerSdp);
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
