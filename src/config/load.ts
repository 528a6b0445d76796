import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';
import { Acl } from '../lib/acl.ts';
import { AppError, messageOf } from '../lib/errors.ts';
import { parse as parseYaml } from 'yaml';
import { isAbsolute, resolve } from 'node:path';
import { defaultConfig, type ActionCheck, type Config, type ConnectionLimits, type ListenAddress, type Route, type RouteAction } from './config.ts';

/** A configuration error (an AppError CONFIG_INVALID); its message names the bad key. The CLI prints it and exits 2. */
function configError(message: string): AppError {
  return new AppError('CONFIG_INVALID', message);
}

/** Largest configuration file read, in bytes. */
const MAX_CONFIG_BYTES = 1 << 20;

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fail(key: string, what: string): never {
  throw configError(`config: ${key}: ${what}`);
}

function checkKeys(obj: Obj, key: string, allowed: string[]): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) fail(key ? `${key}.${k}` : k, `unknown key (expected one of ${allowed.join(', ')})`);
  }
}

/** The mapping `root[name]` ({} when absent), with only `allowed` keys; `key` is its full name in messages. */
function section(root: Obj, name: string, allowed: string[], key = name): Obj {
  const v = root[name];
  if (v === undefined || v === null) return {};
  if (!isObj(v)) fail(key, 'must be a mapping');
  checkKeys(v, key, allowed);
  return v;
}

function str(v: unknown, key: string): string {
  if (typeof v === 'number') return String(v);
  if (typeof v !== 'string' || v === '') fail(key, 'must be a non-empty string');
  return v;
}

function int(v: unknown, key: string, min: number, max: number): number {
  const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) fail(key, `must be a whole number from ${min} to ${max}`);
  return n;
}

/** Parses `host:port`, `[v6]:port` or `:port`. */
export function parseListen(v: unknown, key: string): ListenAddress {
  const text = str(v, key).trim();
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  if (!m) fail(key, `must be "host:port" (IPv6 as "[::1]:port"), got ${JSON.stringify(text)}`);
  const host = m[1] ?? (m[2] || '0.0.0.0');
  return { host, port: int(m[3], key, 0, 65535) };
}

/** An address or CIDR of an access list. */
function network(v: unknown, key: string): string {
  const text = str(v, key);
  try {
    new Acl([text]);
  } catch (err) {
    return fail(key, messageOf(err));
  }
  return text;
}

/** A list of non-empty strings. */
function strList(v: unknown, key: string): string[] {
  if (!Array.isArray(v)) fail(key, 'must be a list');
  return v.map((x, i) => str(x, `${key}[${i}]`));
}

/** A browser origin: scheme://host[:port], as the Origin header spells it (lower case, no path). */
function origin(v: string, key: string): string {
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return fail(key, `must be an origin like "https://app.example.com", got ${JSON.stringify(v)}`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.pathname !== '/' || url.search || url.hash || url.username) {
    fail(key, `must be an origin like "https://app.example.com" (scheme, host and port only), got ${JSON.stringify(v)}`);
  }
  return url.origin;
}

/** Reads maxConnections and maxConnectionsPerSource of a listener's section into `into`. */
function connectionLimits(obj: Obj, key: string, into: ConnectionLimits): void {
  if (obj.maxConnections !== undefined) into.maxConnections = int(obj.maxConnections, `${key}.maxConnections`, 1, 1_000_000);
  if (obj.maxConnectionsPerSource !== undefined) into.maxConnectionsPerSource = int(obj.maxConnectionsPerSource, `${key}.maxConnectionsPerSource`, 1, 1_000_000);
  if (into.maxConnectionsPerSource > into.maxConnections) fail(`${key}.maxConnectionsPerSource`, `must not be more than ${key}.maxConnections (${into.maxConnections})`);
}

function regex(v: unknown, key: string): RegExp {
  const text = str(v, key);
  try {
    return new RegExp(text);
  } catch (err) {
    return fail(key, `invalid regular expression: ${(err as Error).message}`);
  }
}

function action(v: unknown, key: string, check: ActionCheck): RouteAction {
  let app: string;
  let data = '';
  if (typeof v === 'string') {
    const sp = v.trim().indexOf(' ');
    app = sp < 0 ? v.trim() : v.trim().slice(0, sp);
    data = sp < 0 ? '' : v.trim().slice(sp + 1).trim();
  } else if (isObj(v) && Object.keys(v).length === 1) {
    app = Object.keys(v)[0]!;
    const d = v[app];
    data = d === null || d === undefined ? '' : typeof d === 'string' || typeof d === 'number' ? String(d) : fail(`${key}.${app}`, 'must be a string');
  } else {
    return fail(key, 'must be an application name or a one-key mapping like "set: NAME=VALUE"');
  }
  const checked = check(app, data);
  if (!checked.ok) fail(key, checked.error.message);
  return { app, data };
}

function route(v: unknown, key: string, check: ActionCheck): Route {
  if (!isObj(v)) fail(key, 'must be a mapping with match and actions');
  checkKeys(v, key, ['match', 'actions']);
  const r: Route = { headers: [], actions: [] };
  if (v.match !== undefined && v.match !== null) {
    if (!isObj(v.match)) fail(`${key}.match`, 'must be a mapping');
    checkKeys(v.match, `${key}.match`, ['destination', 'caller', 'headers']);
    if (v.match.destination !== undefined) r.destination = regex(v.match.destination, `${key}.match.destination`);
    if (v.match.caller !== undefined) r.caller = regex(v.match.caller, `${key}.match.caller`);
    if (v.match.headers !== undefined) {
      if (!isObj(v.match.headers)) fail(`${key}.match.headers`, 'must be a mapping of header name to regular expression');
      for (const [name, pattern] of Object.entries(v.match.headers)) {
        r.headers.push({ name, pattern: regex(pattern, `${key}.match.headers.${name}`) });
      }
    }
  }
  if (!Array.isArray(v.actions) || v.actions.length === 0) fail(`${key}.actions`, 'must be a non-empty list');
  r.actions = v.actions.map((a, i) => action(a, `${key}.actions[${i}]`, check));
  return r;
}

/**
 * Turns a parsed YAML/JSON document into a Config (defaults for what is missing); throws
 * CONFIG_INVALID naming the key. Route actions are checked with `check` (the service's applications).
 */
export function buildConfig(doc: unknown, check: ActionCheck): Config {
  const config = defaultConfig();
  if (doc === undefined || doc === null) return config;
  if (!isObj(doc)) throw configError('config: the top level must be a mapping');
  checkKeys(doc, '', ['sip', 'rtp', 'esl', 'http', 'tempDir', 'tempDirBudgetMb', 'tempDirStreamBudgetMb', 'sounds', 'stream', 'log', 'media', 'routes']);
  const sip = section(doc, 'sip', ['listen', 'advertisedAddress', 'maxSessions', 'sessionsPerSecond', 'invitesPerSourcePerSecond', 'maxPendingPerSource', 'tcp']);
  if (sip.listen !== undefined) config.sip.listen = parseListen(sip.listen, 'sip.listen');
  config.sip.advertisedAddress = sip.advertisedAddress !== undefined ? str(sip.advertisedAddress, 'sip.advertisedAddress')
    : config.sip.listen.host === '0.0.0.0' || config.sip.listen.host === '::' ? '127.0.0.1' : config.sip.listen.host;
  if (sip.maxSessions !== undefined) config.sip.maxSessions = int(sip.maxSessions, 'sip.maxSessions', 1, 1_000_000);
  if (sip.sessionsPerSecond !== undefined) config.sip.sessionsPerSecond = int(sip.sessionsPerSecond, 'sip.sessionsPerSecond', 1, 1_000_000);
  if (sip.invitesPerSourcePerSecond !== undefined) config.sip.invitesPerSourcePerSecond = int(sip.invitesPerSourcePerSecond, 'sip.invitesPerSourcePerSecond', 1, 1_000_000);
  if (sip.maxPendingPerSource !== undefined) config.sip.maxPendingPerSource = int(sip.maxPendingPerSource, 'sip.maxPendingPerSource', 1, 1_000_000);
  const tcp = section(sip, 'tcp', ['maxConnections', 'maxConnectionsPerSource', 'headerTimeoutMs'], 'sip.tcp');
  connectionLimits(tcp, 'sip.tcp', config.sip.tcp);
  if (tcp.headerTimeoutMs !== undefined) config.sip.tcp.headerTimeoutMs = int(tcp.headerTimeoutMs, 'sip.tcp.headerTimeoutMs', 100, 600_000);
  const rtp = section(doc, 'rtp', ['address', 'portMin', 'portMax', 'timeoutSec']);
  if (rtp.address !== undefined) config.rtp.address = str(rtp.address, 'rtp.address');
  if (rtp.portMin !== undefined) config.rtp.portMin = int(rtp.portMin, 'rtp.portMin', 1024, 65534);
  if (rtp.portMax !== undefined) config.rtp.portMax = int(rtp.portMax, 'rtp.portMax', 1025, 65535);
  if (config.rtp.portMax - config.rtp.portMin < 2) fail('rtp.portMax', 'must be at least rtp.portMin + 2');
  if (rtp.timeoutSec !== undefined) config.rtp.timeoutSec = int(rtp.timeoutSec, 'rtp.timeoutSec', 0, 86400);
  const esl = section(doc, 'esl', ['listen', 'password', 'acl', 'maxConnections', 'maxConnectionsPerSource', 'maxQueueBytes']);
  connectionLimits(esl, 'esl', config.esl);
  if (esl.maxQueueBytes !== undefined) config.esl.maxQueueBytes = int(esl.maxQueueBytes, 'esl.maxQueueBytes', 65536, 1 << 30);
  if (esl.listen !== undefined) config.esl.listen = parseListen(esl.listen, 'esl.listen');
  if (esl.password !== undefined) config.esl.password = str(esl.password, 'esl.password');
  if (esl.acl !== undefined) {
    if (!Array.isArray(esl.acl)) fail('esl.acl', 'must be a list of networks like 127.0.0.0/8');
    config.esl.acl = esl.acl.map((a, i) => network(a, `esl.acl[${i}]`));
  }
  const http = section(doc, 'http', ['listen', 'token', 'allowedHosts', 'allowedOrigins', 'maxConnections', 'maxConnectionsPerSource', 'maxQueueBytes']);
  if (http.listen !== undefined) config.http.listen = parseListen(http.listen, 'http.listen');
  if (http.token !== undefined) config.http.token = str(http.token, 'http.token');
  if (http.allowedHosts !== undefined) config.http.allowedHosts = strList(http.allowedHosts, 'http.allowedHosts').map((h) => h.toLowerCase());
  if (http.allowedOrigins !== undefined) config.http.allowedOrigins = strList(http.allowedOrigins, 'http.allowedOrigins').map((o, i) => origin(o, `http.allowedOrigins[${i}]`));
  connectionLimits(http, 'http', config.http);
  if (http.maxQueueBytes !== undefined) config.http.maxQueueBytes = int(http.maxQueueBytes, 'http.maxQueueBytes', 65536, 1 << 30);
  if (doc.tempDir !== undefined) config.tempDir = str(doc.tempDir, 'tempDir');
  if (doc.tempDirBudgetMb !== undefined) config.tempDirBudgetMb = int(doc.tempDirBudgetMb, 'tempDirBudgetMb', 1, 1 << 20);
  if (doc.tempDirStreamBudgetMb !== undefined) config.tempDirStreamBudgetMb = int(doc.tempDirStreamBudgetMb, 'tempDirStreamBudgetMb', 1, 1 << 20);
  if (config.tempDirStreamBudgetMb > config.tempDirBudgetMb) fail('tempDirStreamBudgetMb', `must not be more than tempDirBudgetMb (${config.tempDirBudgetMb})`);
  const sounds = section(doc, 'sounds', ['dirs']);
  if (sounds.dirs !== undefined) {
    const dirs = typeof sounds.dirs === 'string' ? sounds.dirs.split(':').filter((d) => d !== '') : strList(sounds.dirs, 'sounds.dirs');
    config.sounds.dirs = dirs.map((d, i) => {
      if (!isAbsolute(d)) fail(`sounds.dirs[${i}]`, `must be an absolute path, got ${JSON.stringify(d)}`);
      return resolve(d);
    });
  }
  const stream = section(doc, 'stream', ['maxJsonEventBytes']);
  if (stream.maxJsonEventBytes !== undefined) config.stream.maxJsonEventBytes = int(stream.maxJsonEventBytes, 'stream.maxJsonEventBytes', 1024, 16 << 20);
  const log = section(doc, 'log', ['level']);
  if (log.level !== undefined) {
    const level = str(log.level, 'log.level');
    if (!['error', 'warning', 'notice', 'info', 'debug'].includes(level)) fail('log.level', 'must be error, warning, notice, info or debug');
    config.log.level = level as Config['log']['level'];
  }
  const media = section(doc, 'media', ['workers']);
  if (media.workers === 'auto') config.media.workers = availableParallelism();
  else if (media.workers !== undefined) config.media.workers = int(media.workers, 'media.workers', 0, 256);
  if (doc.routes !== undefined && doc.routes !== null) {
    if (!Array.isArray(doc.routes)) fail('routes', 'must be a list');
    config.routes = doc.routes.map((r, i) => route(r, `routes[${i}]`, check));
    if (config.routes.length === 0) config.routes = defaultConfig().routes;
  }
  return config;
}

/** Environment overrides: AUDIO_STREAM_<SECTION>_<KEY> (camelCase keys as SNAKE_CASE), e.g. AUDIO_STREAM_SIP_LISTEN, AUDIO_STREAM_RTP_PORT_MIN, AUDIO_STREAM_TEMP_DIR. */
export const ENV_KEYS: Record<string, string[]> = {
  AUDIO_STREAM_SIP_LISTEN: ['sip', 'listen'],
  AUDIO_STREAM_SIP_ADVERTISED_ADDRESS: ['sip', 'advertisedAddress'],
  AUDIO_STREAM_SIP_MAX_SESSIONS: ['sip', 'maxSessions'],
  AUDIO_STREAM_SIP_SESSIONS_PER_SECOND: ['sip', 'sessionsPerSecond'],
  AUDIO_STREAM_RTP_ADDRESS: ['rtp', 'address'],
  AUDIO_STREAM_RTP_PORT_MIN: ['rtp', 'portMin'],
  AUDIO_STREAM_RTP_PORT_MAX: ['rtp', 'portMax'],
  AUDIO_STREAM_RTP_TIMEOUT_SEC: ['rtp', 'timeoutSec'],
  AUDIO_STREAM_ESL_LISTEN: ['esl', 'listen'],
  AUDIO_STREAM_ESL_PASSWORD: ['esl', 'password'],
  AUDIO_STREAM_HTTP_LISTEN: ['http', 'listen'],
  AUDIO_STREAM_HTTP_TOKEN: ['http', 'token'],
  AUDIO_STREAM_TEMP_DIR: ['tempDir'],
  AUDIO_STREAM_TEMP_DIR_BUDGET_MB: ['tempDirBudgetMb'],
  AUDIO_STREAM_SOUNDS_DIRS: ['sounds', 'dirs'],
  AUDIO_STREAM_LOG_LEVEL: ['log', 'level'],
  AUDIO_STREAM_MEDIA_WORKERS: ['media', 'workers'],
};

function applyEnv(doc: Obj, env: NodeJS.ProcessEnv): void {
  for (const [name, path] of Object.entries(ENV_KEYS)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    if (name === 'AUDIO_STREAM_LOG_LEVEL' && value === 'off') continue;
    let target = doc;
    for (const part of path.slice(0, -1)) {
      if (!isObj(target[part])) target[part] = {};
      target = target[part] as Obj;
    }
    target[path.at(-1)!] = value;
  }
}

/** Reads the config file (YAML or JSON; none = embedded defaults), applies environment overrides, validates. */
export function loadConfig(path: string | undefined, env: NodeJS.ProcessEnv, check: ActionCheck): Config {
  let doc: unknown = {};
  if (path) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw configError(`config: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    if (text.length > MAX_CONFIG_BYTES) throw configError(`config: ${path} is larger than ${MAX_CONFIG_BYTES} bytes`);
    try {
      doc = parseYaml(text) ?? {};
    } catch (err) {
      throw configError(`config: ${path} is not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  if (isObj(doc)) applyEnv(doc, env);
  return buildConfig(doc, check);
}
