// SDP serializer: the lines of RFC 4566 §5 in the order it requires, CRLF-terminated.
import type { MediaDescription, SdpAttribute, SdpConnection, SessionDescription } from './session-description.ts';

function connectionLine(c: SdpConnection): string {
  return `c=${c.netType} ${c.addrType} ${c.address}${c.suffix ? `/${c.suffix}` : ''}`;
}

function attributeLine(a: SdpAttribute): string {
  return a.value === null ? `a=${a.name}` : `a=${a.name}:${a.value}`;
}

function mediaLines(m: MediaDescription, out: string[]): void {
  const port = m.portCount > 1 ? `${m.port}/${m.portCount}` : `${m.port}`;
  out.push(`m=${m.type} ${port} ${m.protocol} ${m.formats.join(' ')}`);
  if (m.information !== undefined) out.push(`i=${m.information}`);
  if (m.connection) out.push(connectionLine(m.connection));
  for (const b of m.bandwidths) out.push(`b=${b.type}:${b.value}`);
  if (m.key !== undefined) out.push(`k=${m.key}`);
  for (const a of m.attributes) out.push(attributeLine(a));
}

/** Serializes a session description to SDP text with CRLF line ends (RFC 4566 §5). */
export function serializeSdp(sd: SessionDescription): string {
  const o = sd.origin;
  const out = [`v=${sd.version}`, `o=${o.username} ${o.sessionId} ${o.sessionVersion} ${o.netType} ${o.addrType} ${o.address}`];
  out.push(`s=${sd.sessionName === '' ? '-' : sd.sessionName}`);
  if (sd.information !== undefined) out.push(`i=${sd.information}`);
  if (sd.uri !== undefined) out.push(`u=${sd.uri}`);
  for (const e of sd.emails) out.push(`e=${e}`);
  for (const p of sd.phones) out.push(`p=${p}`);
  if (sd.connection) out.push(connectionLine(sd.connection));
  for (const b of sd.bandwidths) out.push(`b=${b.type}:${b.value}`);
  const timing = sd.timing.length > 0 ? sd.timing : [{ start: '0', stop: '0', repeats: [] }];
  for (const t of timing) {
    out.push(`t=${t.start} ${t.stop}`);
    for (const r of t.repeats) out.push(`r=${r}`);
  }
  if (sd.timeZones !== undefined) out.push(`z=${sd.timeZones}`);
  if (sd.key !== undefined) out.push(`k=${sd.key}`);
  for (const a of sd.attributes) out.push(attributeLine(a));
  for (const m of sd.media) mediaLines(m, out);
  return out.join('\r\n') + '\r\n';
}
