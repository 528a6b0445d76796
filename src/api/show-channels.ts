// `show channels` and `show calls` as mod_commands' show_function prints FreeSWITCH 1.10's core-db
// `channels` table and `basic_calls` / `detailed_calls` views: CSV with a header line before the first
// row only, a blank line and `N total.`; `as json` (cJSON unformatted, `{"row_count": 0}\n` when
// empty); `as xml`; `count`; `like <text>` (channels only). audio-stream bridges nothing, so every
// channel is a call of its own: its `call_uuid` is empty and the `b_` columns of its call are empty,
// as FreeSWITCH shows an unbridged leg; `bridged_calls` are always none.
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

/** The columns of the `basic_calls` view (`show calls`, `show bridged_calls`), in order. */
export const CALL_COLUMNS = [
  'uuid', 'direction', 'created', 'created_epoch', 'name', 'state', 'cid_name', 'cid_num', 'ip_addr', 'dest',
  'presence_id', 'presence_data', 'accountcode', 'callstate', 'callee_name', 'callee_num', 'callee_direction',
  'call_uuid', 'hostname', 'sent_callee_name', 'sent_callee_num', 'b_uuid', 'b_direction', 'b_created',
  'b_created_epoch', 'b_name', 'b_state', 'b_cid_name', 'b_cid_num', 'b_ip_addr', 'b_dest', 'b_presence_id',
  'b_presence_data', 'b_accountcode', 'b_callstate', 'b_callee_name', 'b_callee_num', 'b_callee_direction',
  'b_sent_callee_name', 'b_sent_callee_num', 'call_created_epoch',
] as const;

/** The channel columns the `detailed_calls` view repeats for both legs (a-leg plain, b-leg with `b_`). */
const DETAILED_LEG_COLUMNS = CHANNEL_COLUMNS.slice(0, CHANNEL_COLUMNS.indexOf('sent_callee_num') + 1);

/** The columns of the `detailed_calls` view (`show detailed_calls`, `show detailed_bridged_calls`), in order. */
export const DETAILED_CALL_COLUMNS: readonly string[] = [
  ...DETAILED_LEG_COLUMNS, ...DETAILED_LEG_COLUMNS.map((c) => `b_${c}`), 'call_created_epoch',
];

/** The `show` forms audio-stream answers, printed after `-USAGE: `. */
export const SHOW_SYNTAX = 'calls [count]|channels [count|like <match string>]|detailed_calls|bridged_calls'
  + '|detailed_bridged_calls [as csv|delim <char>|json|xml]|status';

type Row = Record<(typeof CHANNEL_COLUMNS)[number], string>;
/** A row of any table: column name to value (a column missing from it is empty, as SQL NULL prints). */
type AnyRow = Readonly<Record<string, string>>;

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
    callstate: callState(channel), callee_name: '', callee_num: '', callee_direction: '', call_uuid: '',
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

function asCsv(columns: readonly string[], rows: AnyRow[], delim: string): string {
  if (rows.length === 0) return '\n0 total.\n';
  let out = `${columns.join(delim)}\n`;
  for (const row of rows) out += `${columns.map((k) => row[k] ?? '').join(delim)}\n`;
  return `${out}\n${rows.length} total.\n`;
}

function asJson(columns: readonly string[], rows: AnyRow[]): string {
  if (rows.length === 0) return '{"row_count": 0}\n';
  const objects = rows.map((row) => Object.fromEntries(columns.map((k) => [k, row[k] ?? ''])));
  return JSON.stringify({ row_count: rows.length, rows: objects });
}

function asXml(columns: readonly string[], rows: AnyRow[]): string {
  if (rows.length === 0) return '<result row_count="0"/>\n';
  const children: XmlNode[] = rows.map((row, i) => ({
    name: 'row',
    attrs: [['row_id', String(i + 1)]],
    children: columns.map((k) => ({ name: k, text: row[k] ?? '' })),
  }));
  return toFsXml({ name: 'result', attrs: [['row_count', String(rows.length)]], children });
}

/** What `show <what>` lists: its columns and its rows. */
interface ShowTable {
  columns: readonly string[];
  rows(ctx: ApiContext): AnyRow[] | Promise<AnyRow[]>;
}

/** The `show channels` rows of the channels of this registry (a media worker's part of the list). */
export function channelRows(ctx: ApiContext): Row[] {
  return [...ctx.channels].map((ch) => channelRow(ctx, ch));
}

/** Every channel's row: the media workers' when the channels live there. */
function allChannelRows(ctx: ApiContext): Row[] | Promise<Row[]> {
  return ctx.remote ? ctx.remote.rows() as Promise<Row[]> : channelRows(ctx);
}

/** Every channel is the a-leg of its own unbridged call: the `b_` columns and call_created_epoch stay empty. */
const TABLES: Readonly<Record<string, ShowTable>> = {
  channels: { columns: CHANNEL_COLUMNS, rows: allChannelRows },
  calls: { columns: CALL_COLUMNS, rows: allChannelRows },
  detailed_calls: { columns: DETAILED_CALL_COLUMNS, rows: allChannelRows },
  bridged_calls: { columns: CALL_COLUMNS, rows: () => [] },
  detailed_bridged_calls: { columns: DETAILED_CALL_COLUMNS, rows: () => [] },
};

/**
 * `show <what> ...`, parsed as show_function parses it: channels (count, like, as ...), calls (count,
 * as ...), detailed_calls, bridged_calls, detailed_bridged_calls (as ...), and status.
 */
export async function show(ctx: ApiContext, args: string): Promise<string> {
  const argv = args ? separateString(args, 6) : [];
  const command = argv[0];
  if (!command) return `-USAGE: ${SHOW_SYNTAX}\n`;
  const lc = command.toLowerCase();
  if (lc.startsWith('status')) return status(ctx);
  const table = Object.hasOwn(TABLES, lc) ? TABLES[lc]! : undefined;
  if (!table) return `-USAGE: ${SHOW_SYNTAX}\n`;
  let as = argv[2] !== undefined && argv[1]?.toLowerCase() === 'as' ? argv[2] : undefined;
  const sub = argv[1]?.toLowerCase();
  if (sub === 'count' && (lc === 'channels' || lc === 'calls')) {
    if (argv[2] !== undefined && argv[3] !== undefined && argv[2].toLowerCase() === 'as') as = argv[3];
    return showCount((await table.rows(ctx)).length, as);
  }
  let rows = await table.rows(ctx);
  if (lc === 'channels' && sub === 'like' && argv[2] !== undefined) {
    const re = likePattern(argv[2].replace(/[';]/g, ' '));
    rows = (rows as Row[]).filter((r) => matchesLike(r, re));
    as = argv[4] !== undefined && argv[3]?.toLowerCase() === 'as' ? argv[4] : undefined;
  }
  // The delimiter of `as delim <char>` is always the fourth word, as show_function reads it.
  return format(table.columns, rows, as, argv[3]);
}

function format(columns: readonly string[], rows: AnyRow[], as: string | undefined, delimArg: string | undefined): string {
  const kind = (as ?? 'delim').toLowerCase();
  if (kind === 'delim' || kind === 'csv') return asCsv(columns, rows, as === undefined ? ',' : delimArg || ',');
  if (kind === 'json') return asJson(columns, rows);
  if (kind === 'xml') return asXml(columns, rows);
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
