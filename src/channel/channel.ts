import { randomUUID } from 'node:crypto';
import type { FrameFormat, MediaBug } from '../bug/media-bug.ts';
import { eventSite, formatLocalDate, type EventBus, type EventSite } from '../events/bus.ts';
import type { FsEvent } from '../events/event.ts';
import { HANGUP_CAUSES, type HangupCause } from './hangup-cause.ts';
import type { FailureLog } from '../lib/failure-log.ts';
import { Playback, type PlaybackHost } from './playback.ts';

/** FreeSWITCH channel states (switch_channel_state_t); the index is Channel-State-Number. */
export const CHANNEL_STATES = ['CS_NEW', 'CS_INIT', 'CS_ROUTING', 'CS_SOFT_EXECUTE', 'CS_EXECUTE', 'CS_EXCHANGE_MEDIA',
  'CS_PARK', 'CS_CONSUME_MEDIA', 'CS_HIBERNATE', 'CS_RESET', 'CS_HANGUP', 'CS_REPORTING', 'CS_DESTROY'] as const;
export type ChannelState = (typeof CHANNEL_STATES)[number];

/** FreeSWITCH call states (switch_channel_callstate_t); the index is Channel-Call-State-Number. */
export const CALL_STATES = ['DOWN', 'DIALING', 'RINGING', 'EARLY', 'ACTIVE', 'HELD', 'RING_WAIT', 'HANGUP', 'UNHELD'] as const;
export type CallState = (typeof CALL_STATES)[number];

/** Answer-State header values. */
export type AnswerState = 'ringing' | 'early' | 'answered' | 'hangup';

/** The codec a channel's frames are exchanged at: PCM is always s16 at `rateHz` (16000 for G722), ptime 10..60 ms. */
export interface ChannelCodec extends FrameFormat {
  /** Codec name as FreeSWITCH shows it (PCMU, PCMA, G722, L16). */
  readonly name: string;
}

/** Bits per second of a codec, as FreeSWITCH's codec implementations give it (Channel-*-Codec-Bit-Rate). */
export function codecBitRate(codec: ChannelCodec): number {
  return codec.name === 'L16' ? codec.rateHz * 16 : 64000;
}

/** The signalling side of a call leg (SIP, a file...), which the channel asks to change state. */
export interface ChannelEndpoint {
  /** Early media (183 with SDP); returns false if impossible. */
  preAnswer(channel: Channel): boolean;
  /** Answer (200 OK); returns false if impossible. */
  answer(channel: Channel): boolean;
  /**
   * Ends the leg (BYE, CANCEL...) with this cause; called once, in CS_HANGUP after the media bugs
   * were closed and the hangup variables set, as FreeSWITCH runs an endpoint's on_hangup.
   */
  hangup(channel: Channel, cause: HangupCause): void;
  /** Right after CHANNEL_HANGUP was fired (what the signalling notes about a hangup it received). */
  hangupFired?(channel: Channel, cause: HangupCause): void;
  /** CS_REPORTING, before CHANNEL_HANGUP_COMPLETE: the last variables (media statistics). */
  reporting?(channel: Channel): void;
}

/** Caller profile fields (FreeSWITCH's Caller-* headers). */
export interface CallerProfile {
  callerIdName: string;
  callerIdNumber: string;
  destinationNumber: string;
  networkAddr: string;
  source: string;
  context: string;
  dialplan: string;
  username: string;
  /** Caller-Screen-Bit (switch_caller_profile_new sets it; a Remote-Party-ID with screen=no clears it). */
  screenBit: boolean;
  /** Caller-Privacy-Hide-Name / -Number (Privacy: id, Remote-Party-ID privacy=...). */
  privacyHideName: boolean;
  privacyHideNumber: boolean;
}

/** What a channel needs from the process: the bus its events go to. */
export interface ChannelHost {
  readonly bus: EventBus;
  /** Where a hangup step that threw (an endpoint, a media bug) is counted and logged once per cause. */
  readonly failures: FailureLog;
  /** Called once when the channel is destroyed (the registry forgets it). */
  onDestroy(channel: Channel): void;
}

/**
 * Where a DTMF digit came from, as FreeSWITCH names it in DTMF-Source (switch_dtmf_source_t): RTP
 * (RFC 4733), ENDPOINT (the signalling: SIP INFO), APP (an application made it up).
 */
export type DtmfSource = 'RTP' | 'ENDPOINT' | 'APP';

/**
 * The events whose headers carry the channel variables (switch_channel_event_set_extended_data's
 * list in 1.10.12): the others (CHANNEL_STATE, CHANNEL_CALLSTATE, DTMF...) carry the channel and
 * caller profile headers only.
 */
const EVENTS_WITH_VARIABLES = new Set([
  'CHANNEL_CREATE', 'CHANNEL_ORIGINATE', 'CHANNEL_UUID', 'CHANNEL_ANSWER', 'CHANNEL_PARK', 'CHANNEL_UNPARK',
  'CHANNEL_BRIDGE', 'CHANNEL_UNBRIDGE', 'CHANNEL_PROGRESS', 'CHANNEL_PROGRESS_MEDIA', 'CHANNEL_HANGUP',
  'CHANNEL_HANGUP_COMPLETE', 'REQUEST_PARAMS', 'CHANNEL_DATA', 'CHANNEL_EXECUTE', 'CHANNEL_EXECUTE_COMPLETE',
  'CHANNEL_DESTROY', 'SESSION_HEARTBEAT', 'API', 'RECORD_START', 'RECORD_STOP', 'PLAYBACK_START', 'PLAYBACK_STOP',
  'CALL_UPDATE', 'MEDIA_BUG_START', 'MEDIA_BUG_STOP', 'CHANNEL_HOLD', 'CHANNEL_UNHOLD', 'TEXT', 'CUSTOM',
]);

/** Media-Bug-Target of a bug without one (switch_core_media_bug_add's default). */
const NO_BUG_TARGET = 'N/A';

/** Most DTMF digits kept for digits_dialed (SWITCH_DTMF_LOG_LEN). */
const DTMF_LOG_LEN = 1000;

// Where the channel's own events are made (Event-Calling-File/-Function/-Line-Number).
const SITE_FIRE = eventSite('channel.ts', 'Channel.fire');
/** Hold periods kept for hold_events. */
const MAX_HOLD_RECORD = 100;
const SITE_ANNOUNCE = eventSite('channel.ts', 'Channel.announce');
const SITE_STATE = eventSite('channel.ts', 'Channel.setRunningState');
const SITE_NEW = eventSite('channel.ts', 'new Channel');
const SITE_CALLSTATE = eventSite('channel.ts', 'Channel.setCallState');
const SITE_PRE_ANSWER = eventSite('channel.ts', 'Channel.preAnswer');
const SITE_ANSWER = eventSite('channel.ts', 'Channel.answer');
const SITE_PARK = eventSite('channel.ts', 'Channel.park');
const SITE_HOLD = eventSite('channel.ts', 'Channel.setHold');
const SITE_DTMF = eventSite('channel.ts', 'Channel.dtmf');
const SITE_ADD_BUG = eventSite('channel.ts', 'Channel.addBug');
const SITE_BUG_STOP = eventSite('channel.ts', 'Channel.bugStopped');
const SITE_HANGUP = eventSite('channel.ts', 'Channel.hangup');
const SITE_REPORTING = eventSite('channel.ts', 'Channel.report');
const SITE_DESTROY = eventSite('channel.ts', 'Channel.destroy');

function nowUs(): bigint {
  return BigInt(Date.now()) * 1000n;
}

/** Headers added to an event before and after the channel's data, and its body. */
interface EventParts {
  /** Only the channel headers: no codec, no caller profile (CHANNEL_STATE CS_NEW, fired before they are set up). */
  bare?: boolean;
  subclass?: string;
  body?: string;
  before?: Record<string, string>;
  after?: Record<string, string>;
}

/**
 * One call leg, shaped like a FreeSWITCH channel: uuid, variables, states, codec, media bugs, events.
 * Variables keep FreeSWITCH's order: setting one again moves it to the end (switch_channel_set_variable
 * deletes and appends), which is the order of the variable_* headers of its events.
 */
export class Channel implements PlaybackHost {
  readonly uuid: string;
  readonly createdAtUs: bigint;
  answeredAtUs = 0n;
  /** When the hangup was processed (0 until CS_HANGUP; CHANNEL_HANGUP still shows 0, as FreeSWITCH). */
  hangupAtUs = 0n;
  /** Ringing indicated (180); audio-stream never sends one, so it stays 0. */
  progressAtUs = 0n;
  /** Early media (183 with SDP). */
  progressMediaAtUs = 0n;
  lastHoldAtUs = 0n;
  holdAccumUs = 0n;
  /** The state the channel runs in: Channel-State (FreeSWITCH's running_state). */
  state: ChannelState = 'CS_NEW';
  /** The state the channel is headed for: Channel-State-Number (FreeSWITCH's state), ahead of `state` while it changes. */
  targetState: ChannelState = 'CS_NEW';
  callState: CallState = 'DOWN';
  answerState: AnswerState = 'ringing';
  hangupCause: HangupCause | undefined;
  /** True while the park application holds the channel (CHANNEL_PARK until CHANNEL_UNPARK). */
  isParked = false;
  readonly variables = new Map<string, string>();
  /** Files played into the write stream (what the remote party hears). */
  readonly playback: Playback;
  private readonly bugs: MediaBug[] = [];
  /** Resolves with the cause once the channel has hung up. */
  readonly ended: Promise<HangupCause>;
  private resolveEnded!: (cause: HangupCause) => void;
  /** Hold periods (on, off µs; off 0 while held), newest first, for hold_events (at most MAX_HOLD_RECORD). */
  private readonly holdRecord: Array<{ on: bigint; off: bigint }> = [];
  private dtmfLog = '';
  private held = false;
  private lastApp: { app: string; data: string } | undefined;

  /**
   * Makes a channel (the registry does, and announces it). `init`, when given, sets the endpoint's
   * variables in their order before anything else (the SIP leg's INVITE and SDP variables); the
   * variable channel_name follows them unless init set it.
   */
  constructor(
    private readonly host: ChannelHost,
    private readonly endpoint: ChannelEndpoint,
    readonly name: string,
    private currentCodec: ChannelCodec,
    readonly caller: CallerProfile,
    readonly direction: 'inbound' | 'outbound' = 'inbound',
    uuid: string = randomUUID(),
    sessionId = 0,
    init?: (channel: Channel) => void,
  ) {
    this.uuid = uuid;
    this.playback = new Playback(this);
    this.ended = new Promise((resolve) => { this.resolveEnded = resolve; });
    this.createdAtUs = nowUs();
    // switch_core_session_request's variables.
    this.setVariable('direction', direction);
    this.setVariable('uuid', uuid);
    this.setVariable('call_uuid', uuid);
    if (sessionId > 0) this.setVariable('session_id', String(sessionId));
    // The session's thread starts: CS_NEW, before the endpoint sets up its codec and caller profile.
    this.emit('CHANNEL_STATE', SITE_NEW, { bare: true });
    init?.(this);
    if (!this.variables.has('channel_name')) this.setVariable('channel_name', name);
    if (!this.variables.has('read_codec')) this.setCodecVariables(true);
  }

  /** True from hangup on: no more media or state changes. */
  get isHungUp(): boolean {
    return this.answerState === 'hangup';
  }

  /** The codec the channel's frames are at. */
  get codec(): ChannelCodec {
    return this.currentCodec;
  }

  /** Sample rate of the frames in Hz (PlaybackHost). */
  get rateHz(): number {
    return this.currentCodec.rateHz;
  }

  /**
   * Updates the codec (e.g. after a re-INVITE) and the read_codec/read_rate/write_codec/write_rate
   * variables (original_read_codec and original_read_rate are the first codec's), and tells the
   * playback queue and every media bug when the frame format changed.
   */
  setCodec(codec: ChannelCodec): void {
    const old = this.currentCodec;
    this.currentCodec = codec;
    this.setCodecVariables(!this.variables.has('original_read_codec'));
    if (old.rateHz === codec.rateHz && old.ptimeMs === codec.ptimeMs) return;
    this.playback.onFormatChange(codec);
    for (const bug of [...this.bugs]) bug.onFormatChange(codec);
  }

  private setCodecVariables(first: boolean): void {
    const name = this.codec.name;
    const rate = String(this.codec.rateHz);
    this.setVariable('read_codec', name);
    if (first) this.setVariable('original_read_codec', name);
    this.setVariable('read_rate', rate);
    if (first) this.setVariable('original_read_rate', rate);
    this.setVariable('write_codec', name);
    this.setVariable('write_rate', rate);
  }

  /**
   * Channel variable by name; a name that is not a variable falls back to the caller profile's
   * field of that name (caller_id_number, destination_number, context...), as
   * switch_channel_get_variable does.
   */
  getVariable(name: string): string | undefined {
    return this.variables.get(name) ?? this.profileField(name);
  }

  /**
   * Sets (moved to the end, as FreeSWITCH does) or, with undefined, unsets a channel variable. An
   * empty value is kept as a variable, but no event shows it (FreeSWITCH stores no empty header).
   */
  setVariable(name: string, value: string | undefined): void {
    this.variables.delete(name);
    if (value !== undefined) this.variables.set(name, value);
  }

  /** switch_caller_get_field_by_name (case-insensitive). */
  private profileField(name: string): string | undefined {
    const c = this.caller;
    switch (name.toLowerCase()) {
      case 'dialplan': return c.dialplan;
      case 'username': return c.username;
      case 'caller_id_name': case 'orig_caller_id_name': return c.callerIdName;
      case 'caller_id_number': case 'orig_caller_id_number': case 'ani': return c.callerIdNumber;
      case 'network_addr': return c.networkAddr;
      case 'destination_number': return c.destinationNumber;
      case 'uuid': return this.uuid;
      case 'source': return c.source;
      case 'context': return c.context;
      case 'chan_name': return this.name;
      case 'profile_index': return '1';
      case 'screen_bit': return String(c.screenBit);
      case 'privacy_hide_name': return String(c.privacyHideName);
      case 'privacy_hide_number': return String(c.privacyHideNumber);
      case 'profile_created_time': case 'created_time': return this.createdAtUs.toString();
      case 'answered_time': return this.answeredAtUs.toString();
      case 'progress_time': return this.progressAtUs.toString();
      case 'progress_media_time': return this.progressMediaAtUs.toString();
      case 'hungup_time': return this.hangupAtUs.toString();
      case 'transferred_time': return '0';
      default: return undefined;
    }
  }

  /**
   * Moves to a state and fires CHANNEL_STATE, as FreeSWITCH's state machine does on every
   * transition. Entering CS_ROUTING sets call_uuid again (switch_core_standard_on_routing).
   */
  setState(state: ChannelState): void {
    if (this.state === state || this.isHungUp) return;
    this.targetState = state;
    if (state === 'CS_ROUTING') this.setVariable('call_uuid', this.uuid);
    this.setRunningState(state);
  }

  /**
   * switch_channel_perform_set_running_state: an inbound channel entering CS_ROUTING is ringing;
   * entering another state before CS_HANGUP, it is ACTIVE when answered (again ACTIVE after an
   * unhold), EARLY with early media; then CHANNEL_STATE.
   */
  private setRunningState(state: ChannelState): void {
    this.state = state;
    if (this.direction === 'inbound' && CHANNEL_STATES.indexOf(state) < CHANNEL_STATES.indexOf('CS_HANGUP')) {
      if (state === 'CS_ROUTING') this.setCallState('RINGING');
      else if (this.answerState === 'answered') this.setCallState('ACTIVE');
      else if (this.answerState === 'early') this.setCallState('EARLY');
    }
    this.emit('CHANNEL_STATE', SITE_STATE);
  }

  /**
   * A new channel (the registry calls this once): CHANNEL_STATE CS_INIT, then CHANNEL_CREATE while
   * the channel is already headed for CS_ROUTING (FreeSWITCH fires it after the endpoint's on_init).
   */
  announce(): void {
    if (this.state !== 'CS_NEW') return;
    this.targetState = 'CS_INIT';
    this.setRunningState('CS_INIT');
    this.targetState = 'CS_ROUTING';
    this.emit('CHANNEL_CREATE', SITE_ANNOUNCE);
  }

  /** Changes the call state and fires CHANNEL_CALLSTATE with the one before it. */
  private setCallState(callState: CallState): void {
    const original = this.callState;
    if (original === callState) return;
    this.callState = callState;
    this.emit('CHANNEL_CALLSTATE', SITE_CALLSTATE, {
      before: { 'Original-Channel-Call-State': original, 'Channel-Call-State-Number': String(CALL_STATES.indexOf(callState)) },
    });
  }

  /** Early media: asks the endpoint, then fires CHANNEL_PROGRESS_MEDIA. True if the channel has media now. */
  preAnswer(): boolean {
    if (this.answerState === 'early' || this.answerState === 'answered') return true;
    if (this.isHungUp || !this.endpoint.preAnswer(this)) return false;
    this.answerState = 'early';
    this.setVariable('endpoint_disposition', 'EARLY MEDIA');
    this.progressMediaAtUs = nowUs();
    this.emit('CHANNEL_PROGRESS_MEDIA', SITE_PRE_ANSWER);
    this.setCallState('EARLY');
    return true;
  }

  /** Answers: asks the endpoint, then fires CHANNEL_ANSWER. */
  answer(): boolean {
    if (this.answerState === 'answered') return true;
    if (this.isHungUp || !this.endpoint.answer(this)) return false;
    this.answerState = 'answered';
    this.answeredAtUs = nowUs();
    this.emit('CHANNEL_ANSWER', SITE_ANSWER);
    this.setVariable('endpoint_disposition', 'ANSWER');
    this.setCallState('ACTIVE');
    return true;
  }

  /**
   * Parks the channel: CHANNEL_PARK, and it stays up, waiting for an API or ESL command. The park
   * application runs in CS_EXECUTE, so the state does not change; the hangup ends the park with
   * CHANNEL_UNPARK.
   */
  park(): void {
    if (this.isHungUp || this.isParked) return;
    this.isParked = true;
    this.emit('CHANNEL_PARK', SITE_PARK);
  }

  /**
   * The remote party put the call on hold (its offer stopped sending to us) or took it off:
   * CHANNEL_CALLSTATE HELD and CHANNEL_HOLD, or UNHELD, CHANNEL_UNHOLD and ACTIVE again (as seen
   * with FreeSWITCH 1.10.12); the hold times of the caller profile and of hold_events follow.
   */
  setHold(held: boolean): void {
    if (this.isHungUp || held === this.held) return;
    this.held = held;
    const now = nowUs();
    if (held) {
      this.setCallState('HELD');
      this.lastHoldAtUs = now;
      this.holdRecord.unshift({ on: now, off: 0n });
      // A re-INVITE flood must not grow every event: keep the newest periods (the accumulated hold time stays whole).
      if (this.holdRecord.length > MAX_HOLD_RECORD) this.holdRecord.length = MAX_HOLD_RECORD;
      this.emit('CHANNEL_HOLD', SITE_HOLD);
    } else {
      if (this.lastHoldAtUs > 0n) this.holdAccumUs += now - this.lastHoldAtUs;
      if (this.holdRecord[0]) this.holdRecord[0].off = now;
      this.setCallState('UNHELD');
      this.emit('CHANNEL_UNHOLD', SITE_HOLD);
      this.setCallState('ACTIVE');
    }
  }

  /**
   * An application starts (the dialplan calls this before CHANNEL_EXECUTE): current_application,
   * current_application_data (unset when there is none) and last_app/last_arg of the CDR.
   */
  executing(app: string, data: string): void {
    this.setVariable('current_application', app);
    this.setVariable('current_application_data', data || undefined);
    this.setVariable('current_application_response', undefined);
    this.lastApp = { app, data };
  }

  /** Attaches a media bug and fires MEDIA_BUG_START; false if one with the same name is already attached. */
  addBug(bug: MediaBug): boolean {
    if (this.isHungUp || this.findBug(bug.name)) return false;
    this.bugs.push(bug);
    this.emit('MEDIA_BUG_START', SITE_ADD_BUG, { before: this.bugHeaders(bug) });
    return true;
  }

  /** Detaches a media bug (without calling onChannelClose) and fires MEDIA_BUG_STOP. */
  removeBug(bug: MediaBug): void {
    const i = this.bugs.indexOf(bug);
    if (i < 0) return;
    this.bugs.splice(i, 1);
    this.bugStopped(bug);
  }

  private bugStopped(bug: MediaBug): void {
    this.emit('MEDIA_BUG_STOP', SITE_BUG_STOP, { before: this.bugHeaders(bug) });
  }

  private bugHeaders(bug: MediaBug): Record<string, string> {
    return { 'Media-Bug-Function': bug.name, 'Media-Bug-Target': bug.target ?? NO_BUG_TARGET };
  }

  /** The attached bug with this name. */
  findBug(name: string): MediaBug | undefined {
    return this.bugs.find((b) => b.name === name);
  }

  /**
   * A DTMF digit from the remote party (RFC 4733 at the end of the event, or SIP INFO): fires DTMF
   * (DTMF-Duration in 8 kHz samples, as FreeSWITCH counts it), logs it for digits_dialed and tells
   * every media bug.
   */
  dtmf(digit: string, durationMs: number, source: DtmfSource): void {
    if (this.isHungUp) return;
    if (this.dtmfLog.length < DTMF_LOG_LEN) this.dtmfLog += digit;
    this.emit('DTMF', SITE_DTMF, {
      after: { 'DTMF-Digit': digit, 'DTMF-Duration': String(Math.round(durationMs * 8)), 'DTMF-Source': source },
    });
    for (const bug of [...this.bugs]) this.guarded(() => bug.onDtmf(digit, durationMs));
  }

  /** Hands one packet time of audio to every bug (the media source calls this once per tick). */
  processFrame(read: Int16Array | null, write: Int16Array | null, dueMs: number): void {
    const bugs = this.bugs;
    for (let i = 0; i < bugs.length; i++) {
      const bug = bugs[i]!;
      bug.onFrame(read, write, dueMs);
      if (bugs[i] !== bug) i--; // the bug detached itself during the call
    }
  }

  /**
   * Hangs up, in FreeSWITCH's order: CHANNEL_HANGUP (the cause set, the state headed for CS_HANGUP),
   * CHANNEL_UNPARK when parked, the playback queue emptied, CHANNEL_STATE CS_HANGUP; every media bug
   * closed (MEDIA_BUG_STOP each), hangup_cause and the CDR variables set, CHANNEL_CALLSTATE HANGUP,
   * the endpoint told (BYE, a final response); CHANNEL_STATE CS_REPORTING, CHANNEL_HANGUP_COMPLETE;
   * CHANNEL_DESTROY, CHANNEL_STATE CS_DESTROY; and the registry forgets the channel. Idempotent. A
   * step that throws (an endpoint or a bug with a bug) is counted and logged, and the hangup still
   * completes: a channel is never left half destroyed.
   */
  hangup(cause: HangupCause = 'NORMAL_CLEARING'): void {
    if (this.isHungUp) return;
    this.hangupCause = cause;
    this.answerState = 'hangup';
    this.targetState = 'CS_HANGUP';
    this.emit('CHANNEL_HANGUP', SITE_HANGUP);
    this.guarded(() => this.endpoint.hangupFired?.(this, cause));
    if (this.isParked) {
      this.emit('CHANNEL_UNPARK', SITE_HANGUP);
      this.isParked = false;
    }
    this.guarded(() => this.playback.clear());
    this.setRunningState('CS_HANGUP');
    // switch_core_session_hangup_state
    this.hangupAtUs = nowUs();
    const held = this.holdRecord[0];
    if (held && held.off === 0n) held.off = this.hangupAtUs;
    const bugs = this.bugs.splice(0);
    for (const bug of bugs) {
      this.guarded(() => bug.onChannelClose());
      this.guarded(() => this.bugStopped(bug));
    }
    this.setVariable('hangup_cause', cause);
    this.setVariable('hangup_cause_q850', String(HANGUP_CAUSES[cause]));
    this.setTimestamps();
    this.setCallState('HANGUP');
    this.guarded(() => this.endpoint.hangup(this, cause));
    this.report();
    this.destroy();
    this.host.onDestroy(this);
    this.resolveEnded(cause);
  }

  /** CS_REPORTING: the endpoint's last variables, CHANNEL_HANGUP_COMPLETE (with Hangup-Cause first). */
  private report(): void {
    this.targetState = 'CS_REPORTING';
    this.setRunningState('CS_REPORTING');
    this.guarded(() => this.endpoint.reporting?.(this));
    this.emit('CHANNEL_HANGUP_COMPLETE', SITE_REPORTING, { before: { 'Hangup-Cause': this.hangupCause! } });
  }

  /** CHANNEL_DESTROY (still running CS_REPORTING, headed for CS_DESTROY), then CHANNEL_STATE CS_DESTROY. */
  private destroy(): void {
    this.targetState = 'CS_DESTROY';
    this.emit('CHANNEL_DESTROY', SITE_DESTROY);
    this.setRunningState('CS_DESTROY');
  }

  /** switch_channel_set_timestamps: the CDR variables, once, at hangup. */
  private setTimestamps(): void {
    const created = this.createdAtUs;
    const answered = this.answeredAtUs;
    const progress = this.progressAtUs;
    const progressMedia = this.progressMediaAtUs;
    const hungup = this.hangupAtUs;
    const s = (us: bigint): bigint => us / 1000000n;
    const ms = (us: bigint): bigint => us / 1000n;
    const stamp = (us: bigint): string => formatLocalDate(new Date(Number(us / 1000n)));
    const set = (name: string, value: bigint | string): void => this.setVariable(name, String(value));
    set('digits_dialed', this.dtmfLog || 'none');
    set('start_stamp', stamp(created));
    set('profile_start_stamp', stamp(created));
    if (answered) set('answer_stamp', stamp(answered));
    if (this.lastHoldAtUs) set('hold_stamp', stamp(this.lastHoldAtUs));
    if (progress) set('progress_stamp', stamp(progress));
    if (progressMedia) set('progress_media_stamp', stamp(progressMedia));
    if (this.holdRecord.length > 0) set('hold_events', `{${this.holdRecord.map((h) => `{${h.on},${h.off}}`).join(',')}}`);
    set('end_stamp', stamp(hungup));
    const epoch = (name: string, us: bigint): void => { set(`${name}_epoch`, s(us)); set(`${name}_uepoch`, us); };
    epoch('start', created);
    epoch('profile_start', created);
    epoch('answer', answered);
    epoch('bridge', 0n);
    epoch('last_hold', this.lastHoldAtUs);
    set('hold_accum_seconds', s(this.holdAccumUs));
    set('hold_accum_usec', this.holdAccumUs);
    set('hold_accum_ms', ms(this.holdAccumUs));
    epoch('resurrect', 0n);
    epoch('progress', progress);
    epoch('progress_media', progressMedia);
    epoch('end', hungup);
    const since = (from: bigint, unit: (us: bigint) => bigint): bigint => unit(hungup) - unit(from);
    const after = (at: bigint, unit: (us: bigint) => bigint): bigint => (at ? unit(at) - unit(created) : 0n);
    const bill = (unit: (us: bigint) => bigint): bigint => (answered ? since(answered, unit) : 0n);
    const flow = (unit: (us: bigint) => bigint): bigint => (answered ? since(created, unit) : 0n);
    const us = (v: bigint): bigint => v;
    this.setVariable('last_app', this.lastApp?.app);
    this.setVariable('last_arg', this.lastApp?.data || undefined);
    const c = this.caller;
    this.setVariable('caller_id', (c.callerIdName ? `"${c.callerIdName}" <${c.callerIdNumber}>` : c.callerIdNumber) || undefined);
    // The billing times in seconds, then milliseconds, then microseconds (switch_channel's order).
    for (const [unit, whole, part] of [[s, 'duration', 'sec'], [ms, 'mduration', 'msec'], [us, 'uduration', 'usec']] as const) {
      set(whole, since(created, unit));
      set(`bill${part}`, bill(unit));
      set(`progress${part}`, after(progress, unit));
      set(`answer${part}`, after(answered, unit));
      set(`wait${part}`, 0n);
      set(`progress_media${part}`, after(progressMedia, unit));
      set(`flow_bill${part}`, flow(unit));
    }
  }

  private guarded(step: () => void): void {
    try {
      step();
    } catch (err) {
      this.host.failures.report(err);
    }
  }

  /**
   * Fires an event carrying this channel's headers, then `extraHeaders` (as FreeSWITCH adds an
   * event's own headers after switch_channel_event_set_data: PLAYBACK_START's Playback-File-Path,
   * CHANNEL_EXECUTE's Application...); CUSTOM events take a subclass.
   */
  fire(name: string, subclass?: string, body?: string, extraHeaders?: Record<string, string>, site: EventSite = SITE_FIRE): void {
    this.emit(name, site, { subclass, body, after: extraHeaders });
  }

  private emit(name: string, site: EventSite, parts: EventParts = {}): void {
    const event = this.host.bus.create(name, parts.subclass, site);
    if (parts.before) for (const k in parts.before) event.add(k, parts.before[k]!);
    if (parts.bare) this.addChannelHeaders(event);
    else this.addEventData(event);
    if (parts.after) for (const k in parts.after) event.add(k, parts.after[k]!);
    event.body = parts.body;
    this.host.bus.fire(event);
  }

  /**
   * switch_channel_event_set_data: the channel headers, the caller profile (Caller-*) and, for the
   * events FreeSWITCH lists (CHANNEL_CREATE, CHANNEL_ANSWER, CUSTOM, MEDIA_BUG_*...), every variable
   * as variable_<name>, in the order they were set.
   */
  addEventData(event: FsEvent): void {
    this.addChannelHeaders(event);
    this.addProfileHeaders(event);
    if (!EVENTS_WITH_VARIABLES.has(event.name)) return;
    for (const [k, v] of this.variables) event.add(`variable_${k}`, v);
  }

  /** switch_channel_event_set_basic_data up to the codecs: states, name, uuid, directions, presence, answer state, cause. */
  private addChannelHeaders(event: FsEvent): void {
    const presenceId = this.variables.get('presence_id');
    const presenceData = this.variables.get('presence_data');
    event
      .add('Channel-State', this.state)
      .add('Channel-Call-State', this.callState)
      .add('Channel-State-Number', CHANNEL_STATES.indexOf(this.targetState))
      .add('Channel-Name', this.name)
      .add('Unique-ID', this.uuid)
      .add('Call-Direction', this.direction)
      .add('Presence-Call-Direction', this.direction)
      .add('Channel-HIT-Dialplan', this.direction === 'inbound' ? 'true' : 'false');
    if (presenceId !== undefined) event.add('Channel-Presence-ID', presenceId);
    if (presenceData !== undefined) event.add('Channel-Presence-Data', presenceData);
    event
      .add('Channel-Call-UUID', this.variables.get('call_uuid') ?? this.uuid)
      .add('Answer-State', this.answerState);
    if (this.hangupCause) event.add('Hangup-Cause', this.hangupCause);
  }

  /** The codecs and the caller profile (switch_caller_profile_event_set_data with the prefix Caller). */
  private addProfileHeaders(event: FsEvent): void {
    const c = this.caller;
    const codec = this.codec;
    const bitRate = codecBitRate(codec);
    event
      .add('Channel-Read-Codec-Name', codec.name)
      .add('Channel-Read-Codec-Rate', codec.rateHz)
      .add('Channel-Read-Codec-Bit-Rate', bitRate)
      .add('Channel-Write-Codec-Name', codec.name)
      .add('Channel-Write-Codec-Rate', codec.rateHz)
      .add('Channel-Write-Codec-Bit-Rate', bitRate)
      .add('Caller-Direction', this.direction)
      .add('Caller-Logical-Direction', this.direction)
      .add('Caller-Username', c.username)
      .add('Caller-Dialplan', c.dialplan)
      .add('Caller-Caller-ID-Name', c.callerIdName)
      .add('Caller-Caller-ID-Number', c.callerIdNumber);
    if (c.callerIdName) event.add('Caller-Orig-Caller-ID-Name', c.callerIdName);
    if (c.callerIdNumber) event.add('Caller-Orig-Caller-ID-Number', c.callerIdNumber);
    event
      .add('Caller-Network-Addr', c.networkAddr)
      .add('Caller-ANI', c.callerIdNumber)
      .add('Caller-Destination-Number', c.destinationNumber)
      .add('Caller-Unique-ID', this.uuid)
      .add('Caller-Source', c.source)
      .add('Caller-Context', c.context)
      .add('Caller-Channel-Name', this.name)
      .add('Caller-Profile-Index', 1)
      .add('Caller-Profile-Created-Time', this.createdAtUs.toString())
      .add('Caller-Channel-Created-Time', this.createdAtUs.toString())
      .add('Caller-Channel-Answered-Time', this.answeredAtUs.toString())
      .add('Caller-Channel-Progress-Time', this.progressAtUs.toString())
      .add('Caller-Channel-Progress-Media-Time', this.progressMediaAtUs.toString())
      .add('Caller-Channel-Hangup-Time', this.hangupAtUs.toString())
      .add('Caller-Channel-Transfer-Time', 0)
      .add('Caller-Channel-Resurrect-Time', 0)
      .add('Caller-Channel-Bridged-Time', 0)
      .add('Caller-Channel-Last-Hold', this.lastHoldAtUs.toString())
      .add('Caller-Channel-Hold-Accum', this.holdAccumUs.toString())
      .add('Caller-Screen-Bit', String(c.screenBit))
      .add('Caller-Privacy-Hide-Name', String(c.privacyHideName))
      .add('Caller-Privacy-Hide-Number', String(c.privacyHideNumber));
  }
}
