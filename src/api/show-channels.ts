// `show channels` as mod_commands' show_function prints FreeSWITCH 1.10's core-db `channels`
// table: CSV with a header line before the first row only, a blank line and `N total.`; `as json`
// (cJSON unformatted, `{"row_count": 0}\n` when empty); `as xml`; `count`; `like <text>`.
import { formatLocalDate } from '../events/bus.ts';
import type { Channel } from '../channel/channel.ts';
import { separateString } from '../lib/separate-string.ts';
import { toFsXml, type XmlNode } from '../events/serialize.ts';
import type { ApiCommand, ApiContext } from './commands.ts';
import { status } from './system-commands.ts';

/** The columns of FreeSWITCH 1.10's `channels` table, in order. */
export const CHANNEL_COLUMNS = [
  'uuid', 'direction', 'created', 'created_epoch', 'name', 'state', 'cid_name', 'cid_num', 'ip_addr', 'dest',
  'application', 'application_data', 'dialplan', 'context', 'read_codec', 'read_rate', 'read_bit_rate',
  'write_codec', 'write_rate', 'write_bit_rate', 'secure', 'hostname', 'presence_id', 'presence_data',
  'accountcode', 'callstate', 'callee_name', 'callee_num', 'callee_direction', 'call_uuid', 'sent_callee_name',
  'sent_callee_num', 'initial_cid_name', 'initial_cid_num', 'initial_ip_addr', 'initial_dest', 'initial_dialplan',
  'initial_context',
] as const;

/** The `show` forms audio-stream answers, printed after `-USAGE: `. */
export const SHOW_SYNTAX = 'channels [count|like <match string>] [as csv|delim <char>|json|xml]|status';

type Row = Record<(typeof CHANNEL_COLUMNS)[number], string>;

function bitRate(codec: string, rateHz: number): number {
  return codec === 'L16' ? rateHz * 16 : 64000;
}

function callState(channel: Channel): string {
  switch (channel.answerState) {
    case 'answered': return 'ACTIVE';
    case 'early': return 'EARLY';
    case 'hangup': return 'HANGUP';
    default: return 'RINGING';
  }
}

/** One row of the channels table for a live channel. */
export function channelRow(ctx: ApiContext, channel: Channel): Row {
  const createdMs = Number(channel.createdAtUs / 1000n);
  const c = channel.caller;
  const app = ctx.stats.applicationOf(channel.uuid);
  const codec = channel.codec;
  return {
    uuid: channel.uuid, direction: channel.direction, created: formatLocalDate(new Date(createdMs)),
    created_epoch: String(Math.floor(createdMs / 1000)), name: channel.name, state: channel.state,
    cid_name: c.callerIdName, cid_num: c.callerIdNumber, ip_addr: c.networkAddr, dest: c.destinationNumber,
    application: app?.app ?? '', application_data: app?.data ?? '', dialplan: c.dialplan, context: c.context,
    read_codec: codec.name, read_rate: String(codec.rateHz), read_bit_rate: String(bitRate(codec.name, codec.rateHz)),
    write_codec: codec.name, write_rate: String(codec.rateHz), write_bit_rate: String(bitRate(codec.name, codec.rateHz)),
    secure: '', hostname: ctx.bus.hostname, presence_id: '', presence_data: '', accountcode: '',
    callstate: callState(channel), callee_name: '', callee_num: '', callee_direction: '', call_uuid: channel.uuid,
    sent_callee_name: '', sent_callee_num: '', initial_cid_name: c.callerIdName, initial_cid_num: c.callerIdNumber,
    initial_ip_addr: c.networkAddr, initial_dest: c.destinationNumber, initial_dialplan: c.dialplan,
    initial_context: c.context,
  };
}

/** SQL LIKE (case-insensitive, `%` and `_`) as a RegExp; without `%` the text may appear anywhere. */
function likePattern(text: string): RegExp {
  const body = text.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&').replace(/%/g, '.*').replace(/_/g, '.');
  return new RegExp(text.includes('%') ? `^${body}$` : body, 'is');
}

function matchesLike(row: Row, re: RegExp): boolean {
  return [row.uuid, row.name, row.cid_name, row.cid_num, row.presence_data, row.accountcode].some((v) => re.test(v));
}

function asCsv(rows: Row[], delim: string): string {
  if (rows.length === 0) return '\n0 total.\n';
  let out = `${CHANNEL_COLUMNS.join(delim)}\n`;
  for (const row of rows) out += `${CHANNEL_COLUMNS.map((k) => row[k]).join(delim)}\n`;
  return `${out}\n${rows.length} total.\n`;
}

function asJson(rows: Row[]): string {
  if (rows.length === 0) return '{"row_count": 0}\n';
  return JSON.stringify({ row_count: rows.length, rows });
}

function asXml(rows: Row[]): string {
  if (rows.length === 0) return '<result row_count="0"/>\n';
  const children: XmlNode[] = rows.map((row, i) => ({
    name: 'row',
    attrs: [['row_id', String(i + 1)]],
    children: CHANNEL_COLUMNS.map((k) => ({ name: k, text: row[k] })),
  }));
  return toFsXml({ name: 'result', attrs: [['row_count', String(rows.length)]], children });
}

/** `show <what> ...`: channels (with count, like, as ...) and status. */
export function show(ctx: ApiContext, args: string): string {
  const argv = args ? separateString(args, 6) : [];
  const command = argv[0];
  if (!command) return `-USAGE: ${SHOW_SYNTAX}\n`;
  if (command.toLowerCase().startsWith('status')) return status(ctx);
  if (command.toLowerCase() !== 'channels') return `-USAGE: ${SHOW_SYNTAX}\n`;
  let as = argv[2] !== undefined && argv[1]?.toLowerCase() === 'as' ? argv[2] : undefined;
  let rows = [...ctx.channels].map((ch) => channelRow(ctx, ch));
  const sub = argv[1]?.toLowerCase();
  if (sub === 'count') {
    if (argv[2]?.toLowerCase() === 'as' && argv[3]) as = argv[3];
    return showCount(rows.length, as);
  }
  let delim = argv[3];
  if (sub === 'like' && argv[2] !== undefined) {
    const re = likePattern(argv[2]);
    rows = rows.filter((r) => matchesLike(r, re));
    as = argv[3]?.toLowerCase() === 'as' && argv[4] ? argv[4] : undefined;
    delim = argv[5];
  }
  return format(rows, as, delim);
}

function format(rows: Row[], as: string | undefined, delimArg: string | undefined): string {
  const kind = (as ?? 'delim').toLowerCase();
  if (kind === 'delim' || kind === 'csv') return asCsv(rows, as === undefined ? ',' : delimArg || ',');
  if (kind === 'json') return asJson(rows);
  if (kind === 'xml') return asXml(rows);
  return `-ERR Cannot find format ${as}\n`;
}

function showCount(count: number, as: string | undefined): string {
  const kind = (as ?? 'delim').toLowerCase();
  if (kind === 'json') return JSON.stringify({ row_count: count, rows: [] });
  if (kind === 'xml') return toFsXml({ name: 'result', attrs: [['row_count', String(count)]] });
  if (kind === 'delim' || kind === 'csv') return `\n${count} total.\n`;
  return `-ERR Cannot find format ${as}\n`;
}

/** `show`. */
export const SHOW_COMMAND: ApiCommand = { name: 'show', syntax: SHOW_SYNTAX, description: 'Show various reports', run: show };
