// The rtp module's public API: one call's RTP session, its port allocator, and the pure parts
// (packet parse/serialize, playout buffer, RFC 4733) for tests and tools.
export { RtpSession, type RtpSessionOptions, type RtpSessionStats } from './rtp-session.ts';
export { PortAllocator } from './port-allocator.ts';
export { buildDtmfPackets, DTMF_DIGITS, DtmfReceiver, dtmfEventCode, type DtmfCallback, type DtmfPacketOptions } from './dtmf.ts';
export { JitterBuffer, JitterStats, type JitterBufferOptions, type JitterFrame } from './jitter-buffer.ts';
export { RtpHeader, RtpParser, RTP_HEADER_BYTES, serializeRtpPacket, writeRtpHeader } from './packet.ts';
export { RtpReceiver, type RtpReceiverOptions } from './rtp-receiver.ts';
export { RtpSender, type RtpSenderOptions } from './rtp-sender.ts';
export { NOTED_SOURCES, PROBATION, RtpTotals, SourceLatch, type ForeignSourceCallback, type SourceLearnedCallback } from './source-latch.ts';
