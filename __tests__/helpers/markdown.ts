/**
 * Just enough Markdown to check links: the links and headings of a page, outside code. No
 * Markdown library is a dependency of this project, and these few rules cover what its pages use.
 */

/** One link of a page: its target as written, and the 1-based line it is on. */
export interface MarkdownLink {
  readonly target: string;
  readonly line: number;
}

/** `text` with fenced code blocks blanked out (line count kept), so their contents are neither links nor headings. */
function withoutFences(text: string): string[] {
  let fence: string | undefined;
  return text.split('\n').map((line) => {
    const open = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (fence === undefined) {
      if (open) fence = open[1];
      return open ? '' : line;
    }
    if (open && open[1][0] === fence[0] && open[1].length >= fence.length && line.trim() === open[1]) fence = undefined;
    return '';
  });
}

/** `line` with inline code spans reduced to their text, so a `[x](y)` inside backticks is not a link. */
function withoutCodeSpans(line: string): string {
  return line.replace(/(`+)([\s\S]*?[^`])\1(?!`)/g, 'code');
}

/** Every inline link `[text](target)`, image `![alt](target)` and reference definition `[x]: target` outside code. */
export function markdownLinks(text: string): MarkdownLink[] {
  const links: MarkdownLink[] = [];
  const lines = withoutFences(text);
  for (const [index, raw] of lines.entries()) {
    const line = withoutCodeSpans(raw);
    for (const m of line.matchAll(/\[(?:[^[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)/g)) {
      links.push({ target: m[1], line: index + 1 });
    }
    const definition = /^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(\s|$)/.exec(line);
    if (definition) links.push({ target: definition[1], line: index + 1 });
  }
  return links;
}

/**
 * GitHub's anchor for a heading: the heading's text (code spans, emphasis and links reduced to
 * their text) lowercased, every character but letters, digits, `_`, `-` and spaces dropped, spaces
 * turned into `-`.
 */
export function githubSlug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/`/g, '')
    .replace(/(\*\*|__|\*|~~)/g, '');
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/**
 * Every anchor of a page: its ATX headings' slugs, repeated ones numbered as GitHub does
 * (`usage`, `usage-1`, ...), plus explicit `id`/`name` attributes of HTML elements.
 */
export function markdownAnchors(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of withoutFences(text)) {
    const heading = /^ {0,3}#{1,6}\s+(.*?)(\s+#+)?\s*$/.exec(line);
    if (heading) {
      const slug = githubSlug(heading[1]);
      const count = seen.get(slug) ?? 0;
      seen.set(slug, count + 1);
      anchors.add(count === 0 ? slug : `${slug}-${count}`);
    }
    for (const m of line.matchAll(/<[a-z]+\s[^>]*\b(?:id|name)="([^"]+)"/gi)) anchors.add(m[1]);
  }
  return anchors;
}
