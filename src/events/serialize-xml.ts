// switch_xml_toxml (src/switch_xml.c, FreeSWITCH 1.10) for the trees FreeSWITCH builds itself:
// events (switch_event_xmlize) and `show ... as xml` results. Reproduced byte for byte:
// - every element is printed `<name attr="v">` (an element always has text, "" by default, so
//   never `<name/>`), children indented by two spaces per level;
// - a newline is added before an opening tag only when the output so far ends with `>`;
// - every closing tag is followed by a newline, and is indented when the output ends with one;
// - text goes through switch_xml_ampencode with UTF-8 encoding on: `&`, `<`, `>` are escaped,
//   `\r` becomes `&#xD;`, every non-ASCII character `&#xHEX;`, and `<!` starts a raw run to the end.

/** An element: a name, attributes in order, and either text or children. */
export interface XmlNode {
  name: string;
  attrs?: Array<[string, string]>;
  text?: string;
  children?: XmlNode[];
}

const INDENT = '  ';

/** switch_xml_ampencode: `attribute` selects the attribute rules (`"`, `\n`, `\t` escaped too). */
export function xmlAmpEncode(text: string, attribute = false): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x3c /* < */ && text.charCodeAt(i + 1) === 0x21 /* ! */) return out + text.slice(i);
    if (c < 0x80) {
      out += asciiEntity(text[i]!, attribute);
      continue;
    }
    let cp = text.codePointAt(i)!;
    if (cp > 0xffff) i++;
    else if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd; // a lone surrogate is U+FFFD once in UTF-8
    out += `&#x${cp.toString(16).toUpperCase()};`;
  }
  return out;
}

function asciiEntity(ch: string, attribute: boolean): string {
  switch (ch) {
    case '&': return '&amp;';
    case '<': return '&lt;';
    case '>': return '&gt;';
    case '\r': return '&#xD;';
    case '"': return attribute ? '&quot;' : ch;
    case '\n': return attribute ? '&#xA;' : ch;
    case '\t': return attribute ? '&#x9;' : ch;
    default: return ch;
  }
}

/** switch_xml_toxml(node, SWITCH_FALSE): the tree printed as FreeSWITCH prints it (ends with a newline). */
export function toFsXml(root: XmlNode): string {
  const out: string[] = [];
  let last = ''; // last character written, for the newline/indent rules
  const write = (s: string): void => {
    if (s.length === 0) return;
    out.push(s);
    last = s[s.length - 1]!;
  };
  const emit = (node: XmlNode, depth: number): void => {
    if (last === '>') write('\n');
    let open = `${INDENT.repeat(depth)}<${node.name}`;
    for (const [k, v] of node.attrs ?? []) open += ` ${k}="${xmlAmpEncode(v, true)}"`;
    write(`${open}>`);
    if (node.children && node.children.length > 0) {
      for (const child of node.children) emit(child, depth + 1);
    } else {
      write(xmlAmpEncode(node.text ?? ''));
    }
    write(`${last === '\n' ? INDENT.repeat(depth) : ''}</${node.name}>\n`);
  };
  emit(root, 0);
  return out.join('');
}
