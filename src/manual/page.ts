/**
 * A manual page as data: sections of paragraphs, term lists, bullet lists and literal blocks,
 * rendered both to roff (render-roff.ts) and to Markdown (render-markdown.ts). Text carries two
 * inline marks, `code` and **bold**, which both renderers understand.
 */

export type Block =
  | { kind: 'para'; text: string }
  /** Terms with their explanation (options, keys, variables, exit codes). */
  | { kind: 'terms'; items: { term: string; text: string }[] }
  | { kind: 'bullets'; items: string[] }
  /** Shown as written: synopses, examples, config files. */
  | { kind: 'literal'; text: string };

export interface Section {
  title: string;
  blocks: Block[];
  subsections?: Section[];
}

export interface Page {
  /** `blit`, `blitd`, `blitd.toml`. */
  name: string;
  /** The manual section: 1 commands, 5 file formats, 8 system administration. */
  section: 1 | 5 | 8;
  /** One line, for NAME. */
  summary: string;
  /** The manual's title in the page header. */
  manual: string;
  sections: Section[];
}

export const para = (text: string): Block => ({ kind: 'para', text });
export const literal = (text: string): Block => ({ kind: 'literal', text });
export const bullets = (...items: string[]): Block => ({ kind: 'bullets', items });
export const terms = (...pairs: [string, string][]): Block => ({
  kind: 'terms',
  items: pairs.map(([term, text]) => ({ term, text })),
});

/** Wraps text in a code mark. */
export const code = (text: string): string => `\`${text}\``;
