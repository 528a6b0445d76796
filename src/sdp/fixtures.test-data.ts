// Real SDP offers for the sdp tests: SIPp 3.6.1 and baresip 1.0.0 as captured on loopback,
// and linphone 5.1-like offers (the codec list linphone 5.1 offers by default).

/** Joins lines with CRLF and a final CRLF, as on the wire. */
export function sdp(...lines: string[]): string {
  return lines.join('\r\n') + '\r\n';
}

/** `sipp -sn uac`: PCMU only. */
export const SIPP_UAC = sdp(
  'v=0', 'o=user1 53655765 2353687637 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
  'm=audio 6000 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000',
);

/** `sipp -sn uac_pcap`: PCMA and telephone-event 0-11,16. */
export const SIPP_PCAP = sdp(
  'v=0', 'o=user1 53655765 2353687637 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
  'm=audio 6002 RTP/AVP 8 101', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-11,16',
);

/** baresip 1.0.0 with g711, g722, l16 and opus loaded. */
export const BARESIP = sdp(
  'v=0', 'o=- 2527971910 2012326900 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'a=tool:baresip 1.0.0',
  'm=audio 39596 RTP/AVP 0 8 9 96 10 97 98 99 100 11 101 102 103 104 105',
  'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:9 G722/8000',
  'a=rtpmap:96 L16/48000/2', 'a=rtpmap:10 L16/44100/2', 'a=rtpmap:97 L16/32000/2', 'a=rtpmap:98 L16/16000/2',
  'a=rtpmap:99 L16/8000/2', 'a=rtpmap:100 L16/48000', 'a=rtpmap:11 L16/44100', 'a=rtpmap:101 L16/32000',
  'a=rtpmap:102 L16/16000', 'a=rtpmap:103 L16/8000', 'a=rtpmap:104 opus/48000/2', 'a=fmtp:104 stereo=1;sprop-stereo=1',
  'a=rtpmap:105 telephone-event/8000', 'a=fmtp:105 0-15',
  'a=sendrecv', 'a=label:1', 'a=rtcp-rsize', 'a=ssrc:3233781363 cname:sip:bob@127.0.0.1:5071', 'a=minptime:4', 'a=ptime:20',
);

/** baresip with `audio_codecs=opus,L16/16000,G722,PCMU` (same format lines, another order). */
export const BARESIP_WIDEBAND_FIRST = BARESIP.replace(
  'm=audio 39596 RTP/AVP 0 8 9 96 10 97 98 99 100 11 101 102 103 104 105',
  'm=audio 39596 RTP/AVP 104 102 9 0 105',
);

/** linphone 5.1-like: opus, speex, PCMU, PCMA, G729 and three telephone-events; session-level attributes. */
export const LINPHONE = sdp(
  'v=0', 'o=bob 3543 1805 IN IP4 127.0.0.1', 's=Talk', 'c=IN IP4 127.0.0.1', 't=0 0',
  'a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics', 'a=record:off',
  'm=audio 7078 RTP/AVP 96 97 98 0 8 18 101 99 100',
  'a=rtpmap:96 opus/48000/2', 'a=fmtp:96 useinbandfec=1', 'a=rtpmap:97 speex/16000', 'a=fmtp:97 vbr=on',
  'a=rtpmap:98 speex/8000', 'a=fmtp:98 vbr=on', 'a=fmtp:18 annexb=yes',
  'a=rtpmap:101 telephone-event/48000', 'a=rtpmap:99 telephone-event/16000', 'a=rtpmap:100 telephone-event/8000',
  'a=rtcp-fb:* trr-int 1000', 'a=rtcp-fb:* ccm tmmbr',
);

/** Video first, then audio (a softphone with a camera). */
export const VIDEO_AND_AUDIO = sdp(
  'v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
  'm=video 9000 RTP/AVP 96 97', 'a=rtpmap:96 VP8/90000', 'a=rtpmap:97 H264/90000', 'a=fmtp:97 profile-level-id=42e01f',
  'm=audio 9002 RTP/AVP 9 0 101', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-15', 'a=ptime:30',
  'm=application 9004 UDP/BFCP *',
);
