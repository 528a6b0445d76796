// The per-packet receive path: RTP header parsing of a 20 ms PCMU packet (12 + 160 bytes), the
// playout buffer in steady state (one packet in, one frame out per tick), and the two with the
// μ-law decode as RtpReceiver does them.
import type { Benchmark } from './harness.ts';
import { FRAMES_PER_SECOND, audioFrames } from './inputs.ts';
import { JitterBuffer } from '../../src/rtp/jitter-buffer.ts';
import { RTP_HEADER_BYTES, RtpParser, writeRtpHeader } from '../../src/rtp/packet.ts';
import { ulawDecode, ulawEncode } from '../../src/codec/g711.ts';

/** 20 ms of PCMU: samples per frame and RTP clock ticks per frame (both 160 at 8 kHz). */
const FRAME_SAMPLES = 160;
const PACKET_BYTES = RTP_HEADER_BYTES + FRAME_SAMPLES;
const SSRC = 0x5eed1234;

/** One PCMU packet of real audio (sequence `seq`, timestamp `ts`). */
function pcmuPacket(seq: number, ts: number): Uint8Array {
  const packet = new Uint8Array(PACKET_BYTES);
  writeRtpHeader(packet, false, 0, seq, ts, SSRC);
  ulawEncode(audioFrames(8000)[7], packet.subarray(RTP_HEADER_BYTES));
  return packet;
}

/** A JitterBuffer configured as RtpReceiver does for 20 ms PCMU. */
function receiverJitterBuffer(): JitterBuffer {
  return new JitterBuffer({ frameTicks: FRAME_SAMPLES, ptimeMs: 20, delayMs: 60, maxPayloadBytes: FRAME_SAMPLES * 2, capacityFrames: 16 });
}

function parseBenchmark(): Benchmark {
  let parser: RtpParser;
  let packet: Uint8Array;
  return {
    name: 'rtp: parse header (PCMU 172 B)',
    bytesPerOp: PACKET_BYTES,
    opsPerCallSecond: FRAMES_PER_SECOND,
    setup() {
      parser = new RtpParser();
      packet = pcmuPacket(4711, 160_000);
      if (parser.parse(packet)?.length !== FRAME_SAMPLES) throw new Error('rtp: the benchmark packet does not parse');
    },
    fn: () => parser.parse(packet),
  };
}

function jitterBenchmark(): Benchmark {
  let jitter: JitterBuffer;
  let payload: Uint8Array;
  let seq = 0;
  let ts = 0;
  /** One tick: the next packet in order arrives, the frame due is played. */
  const tick = () => {
    jitter.push(seq, ts, payload);
    seq = (seq + 1) & 0xffff;
    ts = (ts + FRAME_SAMPLES) >>> 0;
    return jitter.pop();
  };
  return {
    name: 'rtp: jitter buffer push + pop',
    bytesPerOp: FRAME_SAMPLES,
    opsPerCallSecond: FRAMES_PER_SECOND,
    setup() {
      jitter = receiverJitterBuffer();
      payload = pcmuPacket(0, 0).subarray(RTP_HEADER_BYTES);
      // Past the warm-up of delayFrames pops every tick must play a frame, or this measures concealment.
      for (let i = 0; i < 2 * jitter.delayFrames; i++) tick();
      if (tick() === null) throw new Error('rtp: the jitter buffer is not in steady state');
    },
    fn: tick,
  };
}

function receivePathBenchmark(): Benchmark {
  let parser: RtpParser;
  let jitter: JitterBuffer;
  let pcm: Int16Array;
  let packet: Uint8Array;
  let seq = 0;
  let ts = 0;
  /** One tick: a packet arrives (its header rewritten in place: the next in order), is parsed and buffered; the due frame is decoded. */
  const tick = () => {
    writeRtpHeader(packet, false, 0, seq, ts, SSRC);
    seq = (seq + 1) & 0xffff;
    ts = (ts + FRAME_SAMPLES) >>> 0;
    const payload = parser.parse(packet);
    if (payload !== null) jitter.push(parser.header.sequenceNumber, parser.header.timestamp, payload);
    const frame = jitter.pop();
    return frame === null ? 0 : ulawDecode(frame.payload, pcm);
  };
  return {
    name: 'rtp: parse + jitter + PCMU decode',
    bytesPerOp: PACKET_BYTES,
    opsPerCallSecond: FRAMES_PER_SECOND,
    setup() {
      parser = new RtpParser();
      jitter = receiverJitterBuffer();
      pcm = new Int16Array(FRAME_SAMPLES);
      packet = pcmuPacket(0, 0);
      for (let i = 0; i < 2 * jitter.delayFrames; i++) tick();
      if (tick() !== FRAME_SAMPLES) throw new Error('rtp: the receive path is not in steady state');
    },
    fn: tick,
  };
}

/** RTP parsing and playout buffer benchmarks. */
export const rtpBenchmarks: Benchmark[] = [parseBenchmark(), jitterBenchmark(), receivePathBenchmark()];
