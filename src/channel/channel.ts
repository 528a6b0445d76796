import { randomUUID } from 'node:crypto';
import type { FrameFormat, MediaBug } from '../bug/media-bug.ts';
import type { EventBus } from '../events/bus.ts';
import type { FsEvent } from '../events/event.ts';
import { HANGUP_CAUSES, type HangupCause } from './hangup-cause.ts';
import type { FailureLog } from '../lib/failure-log.ts';
import { Playback, type PlaybackHost } from './playback.ts';

/** FreeSWITCH channel states (switch_channel_state_t). */
export const CHANNEL_STATES = ['CS_NEW', 'CS_INIT', 'CS_ROUTING', 'CS_SOFT_EXECUTE', 'CS_EXECUTE', 'CS_EXCHANGE_MEDIA',
  'CS_PARK', 'CS_CONSUME_MEDIA', 'CS_HIBERNATE', 'CS_RESET', 'CS_HANGUP', 'CS_REPORTING', 'CS_DESTROY'] as const;
export type ChannelState = (typeof CHANNEL_STATES)[number];

/** Answer-State header values. */
export type AnswerState = 'ringing' | 'early' | 'answered' | 'hangup';

/** The codec a channel's frames are exchanged at: PCM is always s16 at `rateHz` (16000 for G722), ptime 10..60 ms. */
export interface ChannelCodec extends FrameFormat {
  /** Codec name as FreeSWITCH shows it (PCMU, PCMA, G722, L16). */
  readonly name: string;
}

/** The signalling side of a call leg (SIP, a file...), which the channel asks to change state. */
export interface ChannelEndpoint {
  /** Early media (183 with SDP); returns false if impossible. */
  preAnswer(channel: Channel): boolean;
  /** Answer (200 OK); returns false if impossible. */
  answer(channel: Channel): boolean;
  /** Ends the leg (BYE, CANCEL...) with this cause; called once. */
  hangup(channel: Channel, cause: HangupCause): void;
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

/** One call leg, shaped like a FreeSWITCH channel: uuid, variables, state, codec, media bugs, events. */
export class Channel implements PlaybackHost {
  readonly uuid: string;
  readonly createdAtUs: bigint;
  answeredAtUs = 0n;
  hangupAtUs = 0n;
  state: ChannelState = 'CS_NEW';
  answerState: AnswerState = 'ringing';
  hangupCause: HangupCause | undefined;
  readonly variables = new Map<string, string>();
  /** Files played into the write stream (what the remote party hears). */
  readonly playback: Playback;
  private readonly bugs: MediaBug[] = [];
  /** Resolves with the cause once the channel has hung up. */
  readonly ended: Promise<HangupCause>;
  private resolveEnded!: (cause: HangupCause) => void;

  constructor(
    private readonly host: ChannelHost,
    private readonly endpoint: ChannelEndpoint,
    readonly name: string,
    private currentCodec: ChannelCodec,
    readonly caller: CallerProfile,
    readonly direction: 'inbound' | 'outbound' = 'inbound',
    uuid: string = randomUUID(),
  ) {
    this.uuid = uuid;
    this.playback = new Playback(this);
    this.ended = new Promise((resolve) => { this.resolveEnded = resolve; });
    this.createdAtUs = BigInt(Date.now()) * 1000n;
    this.variables.set('uuid', uuid);
    this.variables.set('channel_name', name);
    this.variables.set('caller_id_number', caller.callerIdNumber);
    this.variables.set('caller_id_name', caller.callerIdName);
    this.variables.set('destination_number', caller.destinationNumber);
    this.setCodecVariables();
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
   * Updates the codec (e.g. after a re-INVITE) and the read_codec/read_rate variables, and tells the
   * playback queue and every media bug when the frame format changed.
   */
  setCodec(codec: ChannelCodec): void {
    const old = this.currentCodec;
    this.currentCodec = codec;
    this.setCodecVariables();
    if (old.rateHz === codec.rateHz && old.ptimeMs === codec.ptimeMs) return;
    this.playback.onFormatChange(codec);
    for (const bug of [...this.bugs]) bug.onFormatChange(codec);
  }

  private setCodecVariables(): void {
    this.variables.set('read_codec', this.codec.name);
    this.variables.set('read_rate', String(this.codec.rateHz));
    this.variables.set('write_codec', this.codec.name);
    this.variables.set('write_rate', String(this.codec.rateHz));
  }

  /** Channel variable by name. */
  getVariable(name: string): string | undefined {
    return this.variables.get(name);
  }

  /** Sets (or, with undefined, unsets) a channel variable. */
  setVariable(name: string, value: string | undefined): void {
    if (value === undefined) this.variables.delete(name);
    else this.variables.set(name, value);
  }

  /** Moves to a state and fires CHANNEL_STATE, as FreeSWITCH does on every transition. */
  setState(state: ChannelState): void {
    if (this.state === state || this.state === 'CS_DESTROY') return;
    this.state = state;
    this.fire('CHANNEL_STATE');
  }

  /** Early media: asks the endpoint, then fires CHANNEL_PROGRESS_MEDIA. True if the channel has media now. */
  preAnswer(): boolean {
    if (this.answerState === 'early' || this.answerState === 'answered') return true;
    if (this.isHungUp || !this.endpoint.preAnswer(this)) return false;
    this.answerState = 'early';
    this.fire('CHANNEL_PROGRESS_MEDIA');
    return true;
  }

  /** Answers: asks the endpoint, then fires CHANNEL_ANSWER. */
  answer(): boolean {
    if (this.answerState === 'answered') return true;
    if (this.isHungUp || !this.endpoint.answer(this)) return false;
    this.answerState = 'answered';
    this.answeredAtUs = BigInt(Date.now()) * 1000n;
    this.fire('CHANNEL_ANSWER');
    return true;
  }

  /** Parks the channel (CS_PARK, CHANNEL_PARK): it stays up, waiting for an API or ESL command. */
  park(): void {
    if (this.isHungUp) return;
    this.setState('CS_PARK');
    this.fire('CHANNEL_PARK');
  }

  /** Attaches a media bug; false if one with the same name is already attached. */
  addBug(bug: MediaBug): boolean {
    if (this.isHungUp || this.findBug(bug.name)) return false;
    this.bugs.push(bug);
    return true;
  }

  /** Detaches a media bug (without calling onChannelClose). */
  removeBug(bug: MediaBug): void {
    const i = this.bugs.indexOf(bug);
    if (i >= 0) this.bugs.splice(i, 1);
  }

  /** The attached bug with this name. */
  findBug(name: string): MediaBug | undefined {
    return this.bugs.find((b) => b.name === name);
  }

  /**
   * A DTMF digit from the remote party (RFC 4733 at the end of the event, or SIP INFO): fires DTMF
   * (DTMF-Duration in 8 kHz samples, as FreeSWITCH counts it) and tells every media bug.
   */
  dtmf(digit: string, durationMs: number, source: DtmfSource): void {
    if (this.isHungUp) return;
    this.fire('DTMF', undefined, undefined, { 'DTMF-Digit': digit, 'DTMF-Duration': String(Math.round(durationMs * 8)), 'DTMF-Source': source });
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
   * Hangs up: tells the endpoint, closes every bug, fires CHANNEL_HANGUP, CHANNEL_HANGUP_COMPLETE and
   * CHANNEL_DESTROY, and leaves the registry. Idempotent. A step that throws (an endpoint or a bug
   * with a bug) is counted and logged, and the hangup still completes: a channel is never left half
   * destroyed.
   */
  hangup(cause: HangupCause = 'NORMAL_CLEARING'): void {
    if (this.isHungUp) return;
    this.hangupCause = cause;
    this.hangupAtUs = BigInt(Date.now()) * 1000n;
    this.answerState = 'hangup';
    this.variables.set('hangup_cause', cause);
    this.variables.set('hangup_cause_q850', String(HANGUP_CAUSES[cause]));
    this.state = 'CS_HANGUP';
    this.fire('CHANNEL_HANGUP');
    this.guarded(() => this.endpoint.hangup(this, cause));
    this.guarded(() => this.playback.clear());
    const bugs = this.bugs.splice(0);
    for (const bug of bugs) this.guarded(() => bug.onChannelClose());
    this.state = 'CS_REPORTING';
    this.fire('CHANNEL_HANGUP_COMPLETE');
    this.state = 'CS_DESTROY';
    this.fire('CHANNEL_DESTROY');
    this.host.onDestroy(this);
    this.resolveEnded(cause);
  }

  private guarded(step: () => void): void {
    try {
      step();
    } catch (err) {
      this.host.failures.report(err);
    }
  }

  /** Fires an event carrying this channel's headers; CUSTOM events take a subclass. */
  fire(name: string, subclass?: string, body?: string, extraHeaders?: Record<string, string>): void {
    const event = this.host.bus.create(name, subclass);
    if (extraHeaders) for (const [k, v] of Object.entries(extraHeaders)) event.add(k, v);
    this.addEventData(event);
    event.body = body;
    this.host.bus.fire(event);
  }

  /** switch_channel_event_set_data: the channel, caller profile and variable_* headers. */
  addEventData(event: FsEvent): void {
    const stateNumber = CHANNEL_STATES.indexOf(this.state);
    const c = this.caller;
    const callState = this.answerState === 'answered' ? 'ACTIVE' : this.answerState === 'early' ? 'EARLY'
      : this.answerState === 'hangup' ? 'HANGUP' : 'RINGING';
    event
      .add('Channel-State', this.state)
      .add('Channel-Call-State', callState)
      .add('Channel-State-Number', stateNumber)
      .add('Channel-Name', this.name)
      .add('Unique-ID', this.uuid)
      .add('Call-Direction', this.direction)
      .add('Presence-Call-Direction', this.direction)
      .add('Channel-HIT-Dialplan', 'true')
      .add('Channel-Read-Codec-Name', this.codec.name)
      .add('Channel-Read-Codec-Rate', this.codec.rateHz)
      .add('Channel-Write-Codec-Name', this.codec.name)
      .add('Channel-Write-Codec-Rate', this.codec.rateHz)
      .add('Answer-State', this.answerState)
      .add('Caller-Direction', this.direction)
      .add('Caller-Logical-Direction', this.direction)
      .add('Caller-Username', c.username)
      .add('Caller-Dialplan', c.dialplan)
      .add('Caller-Caller-ID-Name', c.callerIdName)
      .add('Caller-Caller-ID-Number', c.callerIdNumber)
      .add('Caller-Orig-Caller-ID-Name', c.callerIdName)
      .add('Caller-Orig-Caller-ID-Number', c.callerIdNumber)
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
      .add('Caller-Channel-Hangup-Time', this.hangupAtUs.toString());
    if (this.hangupCause) event.add('Hangup-Cause', this.hangupCause);
    for (const [k, v] of this.variables) event.add(`variable_${k}`, v);
  }
}
