// RFC 4733 telephone-events: receive (one digit per event, deduplicated by the event's RTP
// timestamp, reported on its end bit) and build the packets of one digit (tests, and sending).
import { RTP_HEADER_BYTES, writeRtpHeader } from './packet.ts';

/** Digits by event code 0..16 (RFC 4733 §3.2); 16 is flash, written 'F' as FreeSWITCH does. */
export const DTMF_DIGITS = '0123456789*#ABCDF';

/** Called once per received event with the digit and its duration in ms. */
export type DtmfCallback = (digit: string, durationMs: number) => void;

/** Event code (0..16) of a digit, or -1 if it is not one ('a'..'d' count as 'A'..'D'). */
export function dtmfEventCode(digit: string): number {
  return digit.length === 1 ? DTMF_DIGITS.indexOf(digit.toUpperCase()) : -1;
}

/** Turns a stream of telephone-event payloads into digits; per-packet calls never throw. */
export class DtmfReceiver {
  /** Digits reported. */
  digits = 0;
  /** Packets of an event already reported (the repeated end packets) or older than the current event. */
  duplicates = 0;
  /** Payloads shorter than 4 bytes. */
  malformed = 0;
  /** Events other than 0..16 (tones, line events): ignored. */
  unknown = 0;
  private active = false;
  private reported = false;
  private eventTs = 0;
  private eventCode = 0;
  private eventDuration = 0;

  /** `clockRateHz` is the telephone-event RTP clock (8000 unless negotiated otherwise). */
  constructor(private readonly onDigit: DtmfCallback, public clockRateHz = 8000) {}

  /** Handles one telephone-event payload with its packet's RTP timestamp. */
  receive(timestamp: number, payload: Uint8Array): void {
    if (payload.length < 4) {
      this.malformed++;
      return;
    }
    const code = payload[0];
    if (code > 16) {
      this.unknown++;
      return;
    }
    const end = (payload[1] & 0x80) !== 0;
    const duration = (payload[2] << 8) | payload[3];
    if (this.active && timestamp === this.eventTs) {
      if (this.reported) this.duplicates++;
      else this.update(duration, end);
      return;
    }
    if (this.active && ((timestamp - this.eventTs) | 0) < 0) {
      this.duplicates++; // a late packet of an earlier event
      return;
    }
    this.flush(); // a new event: report the previous one if its end packets were all lost
    this.active = true;
    this.reported = false;
    this.eventTs = timestamp;
    this.eventCode = code;
    this.eventDuration = 0;
    this.update(duration, end);
  }

  /** Reports the current event now if it has not been (its end never came); call when the stream stops. */
  flush(): void {
    if (this.active && !this.reported) this.report();
  }

  /** Forgets the current event without reporting it (a new stream). */
  reset(): void {
    this.active = false;
    this.reported = false;
  }

  private update(duration: number, end: boolean): void {
    if (duration > this.eventDuration) this.eventDuration = duration;
    if (end) this.report();
  }

  private report(): void {
    this.reported = true;
    this.digits++;
    this.onDigit(DTMF_DIGITS[this.eventCode], Math.round((this.eventDuration * 1000) / this.clockRateHz));
  }
}

/** What buildDtmfPackets needs. */
export interface DtmfPacketOptions {
  digit: string;
  payloadType: number;
  ssrc: number;
  /** Sequence number of the first packet (16-bit; following packets add 1). */
  sequenceNumber: number;
  /** RTP timestamp of the event start, carried by every packet of the event. */
  timestamp: number;
  /** Telephone-event clock in Hz (default 8000). */
  clockRateHz?: number;
  /** Event duration in ms (default 100). */
  durationMs?: number;
  /** Interval between packets in ms (default 20). */
  packetMs?: number;
  /** Power level in -dBm0, 0..63 (default 10). */
  volume?: number;
}

/** Builds the RTP packets of one digit (RFC 4733 §2.5): marker on the first, growing durations, the end packet sent 3 times. */
export function buildDtmfPackets(o: DtmfPacketOptions): Uint8Array[] {
  const code = dtmfEventCode(o.digit);
  if (code < 0) throw new RangeError(`not a DTMF digit: ${JSON.stringify(o.digit)}`);
  const clock = o.clockRateHz ?? 8000;
  const durationMs = o.durationMs ?? 100;
  const packetMs = o.packetMs ?? 20;
  const total = Math.min(0xffff, Math.round((durationMs * clock) / 1000));
  const steps = Math.max(1, Math.ceil(durationMs / packetMs));
  const packets: Uint8Array[] = [];
  const push = (duration: number, end: boolean): void => {
    const p = new Uint8Array(RTP_HEADER_BYTES + 4);
    writeRtpHeader(p, packets.length === 0, o.payloadType, (o.sequenceNumber + packets.length) & 0xffff, o.timestamp >>> 0, o.ssrc >>> 0);
    p[12] = code;
    p[13] = (end ? 0x80 : 0) | ((o.volume ?? 10) & 0x3f);
    p[14] = duration >> 8;
    p[15] = duration & 0xff;
    packets.push(p);
  };
  for (let i = 1; i < steps; i++) push(Math.round((i * packetMs * clock) / 1000), false);
  for (let i = 0; i < 3; i++) push(total, true);
  return packets;
}
