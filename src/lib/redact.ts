// Secrets in channel variables (credentials set by an application or a SIP header), kept out of
// what the HTTP API answers and what the log writes. The Event Socket shows variables unredacted,
// as FreeSWITCH does: it is password-protected and applications rely on reading them back.

/** What a redacted value reads as. */
export const REDACTED = '[redacted]';

/**
 * Names whose last word is a credential: PASSWORD, PASSWD, TOKEN, SECRET or AUTHORIZATION, in any
 * case, after `_`, `-`, `.`, a lower-case letter or digit followed by the capital of the word
 * (camelCase), or alone: `DB_PASSWORD`, `api-token`, `sip_h_X-Auth-Token`, `clientSecret`,
 * `sip_h_Proxy-Authorization`, `TOKEN`. Not `TOKENS`, `MYTOKEN` (no word boundary) or `TOKEN_TYPE`.
 */
const SECRET_NAME = /(?:^|[_.-])(?:password|passwd|token|secret|authorization)$/i;
const SECRET_CAMEL = /[a-z0-9](?:Password|Passwd|Token|Secret|Authorization|PASSWORD|PASSWD|TOKEN|SECRET|AUTHORIZATION)$/;

/** The variable holding mod_audio_stream's extra upgrade headers (a JSON object of header values). */
const EXTRA_HEADERS = 'stream_extra_headers';

/** True when a variable or header name names a credential (see SECRET_NAME). */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name) || SECRET_CAMEL.test(name);
}

/**
 * The value to show for variable `name`: REDACTED for a secret; for STREAM_EXTRA_HEADERS the same
 * JSON object with every member's value REDACTED (names kept, so one can see which headers are
 * sent), or REDACTED whole when it is not a JSON object; any other value as it is.
 */
export function redactValue(name: string, value: string): string {
  if (isSecretName(name)) return REDACTED;
  if (name.toLowerCase() !== EXTRA_HEADERS) return value;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return REDACTED;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return REDACTED;
  const out: Record<string, string> = {};
  for (const key of Object.keys(parsed)) {
    // Defined, not assigned: a member named __proto__ stays a member.
    Object.defineProperty(out, key, { value: REDACTED, enumerable: true, writable: true, configurable: true });
  }
  return JSON.stringify(out);
}

/** A copy of `variables` (name, value pairs, in order) as an object with every secret redacted. */
export function redactVariables(variables: Iterable<readonly [string, string]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of variables) {
    Object.defineProperty(out, name, { value: redactValue(name, value), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/**
 * A command or application text for the log with the value of a secret assignment redacted:
 * `set DB_PASSWORD=x` (dialplan `set`/`export` data) and `uuid_setvar <uuid> API_TOKEN x`
 * (the API) keep their names; any other text as it is.
 */
export function redactForLog(text: string): string {
  const assignment = /^(\s*(?:(?:set|export)\s+)?)([^\s=]+)=([\s\S]*)$/.exec(text);
  if (assignment) return `${assignment[1]}${assignment[2]}=${redactValue(assignment[2]!, assignment[3]!)}`;
  const setvar = /^(\s*uuid_setvar\s+\S+\s+)(\S+)(\s+)([\s\S]*)$/i.exec(text);
  if (setvar) return `${setvar[1]}${setvar[2]}${setvar[3]}${redactValue(setvar[2]!, setvar[4]!)}`;
  return text;
}
