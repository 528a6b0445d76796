/**
 * FreeSWITCH's switch_separate_string(buf, ' ', argv, max): splits an API argument string.
 * Runs of spaces separate fields; single quotes group (and are removed when paired); a backslash
 * escapes the next character (\n \r \t \s become newline, CR, tab, space); the last field takes the
 * rest of the line. A leading `^^X` switches the delimiter to the character X.
 */
export function separateString(input: string, maxFields: number): string[] {
  if (maxFields <= 0 || input.length === 0) return [];
  if (input.startsWith('^^') && input.length > 2) {
    return splitCharDelim(input.slice(3), input[2]!, maxFields);
  }
  return splitBlankDelim(input, maxFields);
}

const ESCAPE = '\\';

function unescapeChar(c: string): string {
  switch (c) {
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 's': return ' ';
    default: return c;
  }
}

/** First pass of separate_string_blank_delim: field boundaries only. */
function splitBlankDelim(buf: string, maxFields: number): string[] {
  const starts: number[] = [];
  const ends: number[] = [];
  let i = 0;
  let insideQuotes = false;
  while (i < buf.length && starts.length < maxFields) {
    starts.push(i);
    while (i < buf.length && buf[i] === ' ') i++;
    let end = buf.length;
    while (i < buf.length) {
      const c = buf[i]!;
      if (c === ESCAPE) i++;
      else if (c === "'") insideQuotes = !insideQuotes;
      else if (c === ' ' && !insideQuotes) { end = i; i++; break; }
      i++;
    }
    ends.push(Math.min(end, buf.length));
    while (i < buf.length && buf[i] === ' ') i++;
  }
  // The last field always runs to the end of the line, as the C code stops scanning there.
  if (starts.length === maxFields) ends[maxFields - 1] = buf.length;
  return starts.map((s, k) => cleanup(buf.slice(s, ends[k]), ' '));
}

function splitCharDelim(buf: string, delim: string, maxFields: number): string[] {
  const fields: string[] = [];
  let start = 0;
  let insideQuotes = false;
  let i = 0;
  while (i < buf.length && fields.length < maxFields - 1) {
    const c = buf[i]!;
    if (c === ESCAPE) i++;
    else if (c === "'" && (insideQuotes || buf.indexOf("'", i + 1) >= 0)) insideQuotes = !insideQuotes;
    else if (c === delim && !insideQuotes) { fields.push(buf.slice(start, i)); start = i + 1; }
    i++;
  }
  if (start <= buf.length && (start < buf.length || fields.length > 0)) fields.push(buf.slice(start));
  return fields.map((f) => cleanup(f, delim));
}

/** cleanup_separated_string: strips paired quotes, resolves escapes, trims spaces. */
function cleanup(field: string, delim: string): string {
  let i = 0;
  while (field[i] === ' ') i++;
  let out = '';
  let end = 0;
  let insideQuotes = false;
  for (; i < field.length; i++) {
    const c = field[i]!;
    if (c === ESCAPE && i + 1 < field.length) {
      const next = field[i + 1]!;
      const un = unescapeChar(next);
      if (next === "'" || next === '"' || next === delim || next === ESCAPE || un !== next) {
        out += un;
        end = out.length;
        i++;
        continue;
      }
    }
    if (c === "'" && (insideQuotes || field.indexOf("'", i + 1) >= 0)) {
      insideQuotes = !insideQuotes;
      if (insideQuotes) end = out.length;
    } else {
      out += c;
      if (c !== ' ' || insideQuotes) end = out.length;
    }
  }
  return out.slice(0, end);
}
