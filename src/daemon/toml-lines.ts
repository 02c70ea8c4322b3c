/**
 * Where each key of a TOML document sits, so a config error can name its line. smol-toml returns
 * plain values without positions; this scan reads table headers and `key =` lines (bare, quoted
 * and dotted keys), skipping the insides of multi-line strings.
 *
 * Keys are reported as paths: `daemon`, `daemon.port`, `module[0]`, `module[0].name`.
 */

/** Splits a TOML key (`a."b.c".d`) into its parts; undefined when it is not a plain key. */
function splitKey(text: string): string[] | undefined {
  const parts: string[] = [];
  let i = 0;
  const s = text.trim();
  while (i < s.length) {
    while (s[i] === ' ' || s[i] === '\t') i++;
    let part: string;
    const quote = s[i];
    if (quote === '"' || quote === "'") {
      const end = s.indexOf(quote, i + 1);
      if (end < 0) return undefined;
      part = s.slice(i + 1, end);
      i = end + 1;
    } else {
      const match = /^[A-Za-z0-9_-]+/.exec(s.slice(i));
      if (!match) return undefined;
      part = match[0];
      i += part.length;
    }
    parts.push(part);
    while (s[i] === ' ' || s[i] === '\t') i++;
    if (i < s.length) {
      if (s[i] !== '.') return undefined;
      i++;
    }
  }
  return parts.length > 0 ? parts : undefined;
}

/** The text of a `key = value` line up to its '=', or undefined. */
function keyBeforeEquals(line: string): string | undefined {
  let inQuote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (inQuote) {
      if (c === inQuote) inQuote = undefined;
    } else if (c === '"' || c === "'") inQuote = c;
    else if (c === '=') return line.slice(0, i);
    else if (c === '#') return undefined;
  }
  return undefined;
}

/** Counts triple quotes to know whether a line leaves a multi-line string open. */
function togglesMultiline(line: string, open: string | undefined): string | undefined {
  let state = open;
  let i = 0;
  while (i < line.length) {
    if (state) {
      const end = line.indexOf(state, i);
      if (end < 0) return state;
      i = end + 3;
      state = undefined;
    } else {
      const next = [line.indexOf('"""', i), line.indexOf("'''", i)].filter((n) => n >= 0);
      if (next.length === 0) return undefined;
      const at = Math.min(...next);
      const hash = line.indexOf('#', i);
      if (hash >= 0 && hash < at) return undefined;
      state = line.slice(at, at + 3);
      i = at + 3;
    }
  }
  return state;
}

/** Line numbers (1-based) of every table header and key, by key path. */
export function keyLines(text: string): Map<string, number> {
  const lines = new Map<string, number>();
  const arrayCounts = new Map<string, number>();
  let table: string[] = [];
  let multiline: string | undefined;
  text.split('\n').forEach((raw, index) => {
    const lineNo = index + 1;
    const wasOpen = multiline;
    multiline = togglesMultiline(raw, multiline);
    if (wasOpen) return;
    const line = raw.trim();
    const header = /^\[\[(.+)\]\]\s*(#.*)?$/.exec(line) ?? /^\[(.+)\]\s*(#.*)?$/.exec(line);
    if (header) {
      const parts = splitKey(header[1]!);
      if (!parts) return;
      const name = parts.join('.');
      if (line.startsWith('[[')) {
        const n = arrayCounts.get(name) ?? 0;
        arrayCounts.set(name, n + 1);
        table = [`${name}[${n}]`];
      } else table = [name];
      if (!lines.has(table[0]!)) lines.set(table[0]!, lineNo);
      return;
    }
    const key = keyBeforeEquals(line);
    if (key === undefined) return;
    const parts = splitKey(key);
    if (!parts) return;
    const path = [...table, ...parts].join('.');
    if (!lines.has(path)) lines.set(path, lineNo);
  });
  return lines;
}
