// A small YAML reader for the files under dashboards/prometheus (rules and promtool tests), so the
// lint needs nothing but node. It reads the block style those files use: mappings, sequences
// ("- " items, also "- key: value"), plain/single/double-quoted scalars, block scalars (| |- > >-),
// flow collections of scalars ([a, b], {a: b}) and comments. Anything else (anchors, tags,
// multi-line plain or quoted scalars, multi-document files) throws with the line number instead of
// being misread. Scalars stay strings; [] and {} become an empty array and object.

export function parseYaml(text, file = '<yaml>') {
  const lines = text.replace(/\r\n/g, '\n').split('\n').map((raw, i) => ({ raw, no: i + 1 }));
  let pos = 0;

  const fail = (no, msg) => { throw new Error(`${file}:${no}: ${msg}`); };
  const indentOf = (raw) => raw.match(/^ */)[0].length;
  const isBlank = (raw) => /^\s*(#.*)?$/.test(raw);

  // The next line with content, skipping blank and comment-only lines.
  function peek() {
    while (pos < lines.length && isBlank(lines[pos].raw)) pos++;
    if (pos >= lines.length) return null;
    const l = lines[pos];
    if (/\t/.test(l.raw.match(/^\s*/)[0])) fail(l.no, 'tab in indentation');
    if (/^(---|\.\.\.)\s*$/.test(l.raw)) fail(l.no, 'multi-document YAML is not supported');
    return { ...l, indent: l.override?.indent ?? indentOf(l.raw), text: l.override?.text ?? l.raw.trim() };
  }

  // Removes a trailing " # comment" outside quotes.
  function stripComment(s) {
    let q = null;
    for (let i = 0; i < s.length; i++) {
      const c = s[i];
      if (q) {
        if (c === '\\' && q === '"') i++;
        else if (c === q) q = null;
      } else if (c === '"' || c === "'") {
        q = c;
      } else if (c === '#' && (i === 0 || /\s/.test(s[i - 1]))) {
        return s.slice(0, i).trimEnd();
      }
    }
    return s.trimEnd();
  }

  function unquote(s, no) {
    if (s.startsWith('"')) {
      if (!/^"(?:[^"\\]|\\.)*"$/.test(s)) fail(no, `bad or multi-line double-quoted scalar: ${s}`);
      return JSON.parse(s.replace(/\\\//g, '/').replace(/\\'/g, "'"));
    }
    if (s.startsWith("'")) {
      if (!/^'(?:[^']|'')*'$/.test(s)) fail(no, `bad or multi-line single-quoted scalar: ${s}`);
      return s.slice(1, -1).replace(/''/g, "'");
    }
    return s;
  }

  // Splits the inside of a flow collection on commas outside quotes.
  function splitFlow(inner, no) {
    const parts = [];
    let q = null;
    let cur = '';
    for (let i = 0; i < inner.length; i++) {
      const c = inner[i];
      if (q) {
        cur += c;
        if (c === '\\' && q === '"') cur += inner[++i];
        else if (c === q) q = null;
      } else if (c === '"' || c === "'") {
        q = c;
        cur += c;
      } else if (c === '[' || c === '{') {
        fail(no, 'nested flow collections are not supported');
      } else if (c === ',') {
        parts.push(cur.trim());
        cur = '';
      } else {
        cur += c;
      }
    }
    if (cur.trim()) parts.push(cur.trim());
    return parts;
  }

  function scalar(s, no) {
    if (/^[&*!]/.test(s)) fail(no, `anchors, aliases and tags are not supported: ${s}`);
    if (s.startsWith('[')) {
      if (!s.endsWith(']')) fail(no, `unterminated flow sequence: ${s}`);
      return splitFlow(s.slice(1, -1), no).map((p) => scalar(p, no));
    }
    if (s.startsWith('{')) {
      if (!s.endsWith('}')) fail(no, `unterminated flow mapping: ${s}`);
      const obj = {};
      for (const p of splitFlow(s.slice(1, -1), no)) {
        const m = p.match(/^("[^"]*"|'[^']*'|[^:]+?)\s*:\s+(.*)$/) || p.match(/^("[^"]*"|'[^']*'|[^:]+?)\s*:$/);
        if (!m) fail(no, `bad flow mapping entry: ${p}`);
        obj[unquote(m[1], no)] = m[2] === undefined ? null : scalar(m[2], no);
      }
      return obj;
    }
    return unquote(s, no);
  }

  function blockScalar(header, parentIndent, no) {
    const m = header.match(/^([|>])([+-]?)$/);
    if (!m) fail(no, `unsupported block scalar header: ${header}`);
    const [, style, chomp] = m;
    const body = [];
    let blockIndent = null;
    while (pos < lines.length) {
      const raw = lines[pos].raw;
      if (/^\s*$/.test(raw)) { body.push(''); pos++; continue; }
      const ind = indentOf(raw);
      if (ind <= parentIndent) break;
      if (blockIndent === null) blockIndent = ind;
      if (ind < blockIndent) fail(lines[pos].no, 'block scalar line indented less than its first line');
      body.push(raw.slice(blockIndent));
      pos++;
    }
    // Trailing blank lines belong to the chomping, not the content.
    let trailing = 0;
    while (body.length && body[body.length - 1] === '') { body.pop(); trailing++; }
    let out;
    if (style === '|') {
      out = body.join('\n');
    } else {
      out = '';
      for (let i = 0; i < body.length; i++) {
        const l = body[i];
        if (i === 0) { out = l; continue; }
        const prev = body[i - 1];
        if (l === '') out += '\n';
        else if (prev === '' || /^\s/.test(l) || /^\s/.test(prev)) out += (prev === '' ? '' : '\n') + l;
        else out += ' ' + l;
      }
    }
    if (body.length === 0) return '';
    if (chomp === '-') return out;
    if (chomp === '+') return out + '\n'.repeat(trailing + 1);
    return out + '\n';
  }

  // The value after "key:" (or "- "): inline, block scalar, or a nested block.
  function valueAfter(rest, indent, no, allowSameIndentSeq) {
    if (rest === '') {
      const next = peek();
      if (!next) return null;
      if (next.indent > indent) return block(next.indent);
      if (allowSameIndentSeq && next.indent === indent && /^-( |$)/.test(next.text)) return sequence(indent);
      return null;
    }
    if (/^[|>]/.test(rest)) return blockScalar(rest, indent, no);
    return scalar(rest, no);
  }

  function mapping(indent) {
    const obj = {};
    for (;;) {
      const l = peek();
      if (!l || l.indent < indent) break;
      if (l.indent > indent) fail(l.no, 'unexpected indentation (multi-line plain scalars are not supported)');
      if (/^-( |$)/.test(l.text)) break;
      const text = stripComment(l.text);
      const m = text.match(/^("[^"]*"|'[^']*'|[^\s"'#][^:#]*?)\s*:(?:\s+(.*))?$/);
      if (!m) fail(l.no, `expected "key: value": ${l.text}`);
      const key = unquote(m[1], l.no);
      if (Object.prototype.hasOwnProperty.call(obj, key)) fail(l.no, `duplicate key ${key}`);
      pos++;
      obj[key] = valueAfter((m[2] ?? '').trim(), indent, l.no, true);
    }
    return obj;
  }

  function sequence(indent) {
    const arr = [];
    for (;;) {
      const l = peek();
      if (!l || l.indent < indent) break;
      if (l.indent > indent) fail(l.no, 'unexpected indentation in a sequence');
      if (!/^-( |$)/.test(l.text)) break;
      const after = l.text.slice(1);
      const rest = stripComment(after.trim());
      if (rest !== '' && /^("[^"]*"|'[^']*'|[^\s"'#\[{][^:#]*?)\s*:(\s|$)/.test(rest) && !/^[|>]/.test(rest)) {
        // "- key: value": a mapping whose keys line up with "key".
        const childIndent = indent + 1 + after.match(/^ */)[0].length;
        lines[pos].override = { indent: childIndent, text: after.trim() };
        arr.push(mapping(childIndent));
      } else {
        pos++;
        arr.push(valueAfter(rest, indent, l.no, false));
      }
    }
    return arr;
  }

  function block(indent) {
    const l = peek();
    if (!l) return null;
    return /^-( |$)/.test(l.text) ? sequence(indent) : mapping(indent);
  }

  const first = peek();
  if (!first) return null;
  const doc = block(first.indent);
  const rest = peek();
  if (rest) fail(rest.no, `unexpected content: ${rest.text}`);
  return doc;
}
