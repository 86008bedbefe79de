import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from '../helpers/paths';
import { githubSlug, markdownAnchors, markdownLinks } from '../helpers/markdown';

/** The pages whose links must resolve: the README, every guide and the serving image's README. */
const PAGES = [
  'README.md',
  ...readdirSync(path.join(REPO_ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
  'serving-image/README.md',
  'CHANGELOG.md',
];

/** What is wrong with each relative link of `page` (repository-relative), as `line N: target: reason`. */
function brokenLinks(page: string, text = readFileSync(path.join(REPO_ROOT, page), 'utf8')): string[] {
  const problems: string[] = [];
  for (const { target, line } of markdownLinks(text)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) continue; // https:, mailto:...
    const [file, anchor] = target.split('#', 2) as [string, string | undefined];
    const resolved =
      file === '' ? page : path.posix.normalize(path.posix.join(path.posix.dirname(page), decodeURI(file)));
    const absolute = path.join(REPO_ROOT, resolved);
    if (resolved.startsWith('../')) {
      problems.push(`line ${line}: ${target}: outside the repository`);
    } else if (resolved !== page && !existsSync(absolute)) {
      problems.push(`line ${line}: ${target}: ${resolved} does not exist`);
    } else if (anchor !== undefined && resolved.endsWith('.md') && (resolved === page || statSync(absolute).isFile())) {
      const targetText = resolved === page ? text : readFileSync(absolute, 'utf8');
      if (!markdownAnchors(targetText).has(anchor)) {
        problems.push(`line ${line}: ${target}: ${resolved} has no heading #${anchor}`);
      }
    }
  }
  return problems;
}

describe('Markdown parsing for the link check', () => {
  test('a heading slug drops punctuation and backticks and joins words with hyphens', () => {
    // GIVEN a heading with a code span and a colon
    // WHEN it is slugged
    const slug = githubSlug('Reviewing a plan: `cdktf diff`');
    // THEN it is GitHub's anchor
    expect(slug).toBe('reviewing-a-plan-cdktf-diff');
  });

  test('a heading slug keeps hyphens and underscores and drops dots and commas', () => {
    expect(githubSlug('stacks.yaml reference')).toBe('stacksyaml-reference');
    expect(githubSlug('Batching, backpressure and shutdown')).toBe('batching-backpressure-and-shutdown');
    expect(githubSlug('Reaching a private-psc endpoint')).toBe('reaching-a-private-psc-endpoint');
  });

  test('a repeated heading gets a numbered anchor', () => {
    // GIVEN two headings with the same text
    const anchors = markdownAnchors('# Usage\n\n## Usage\n');
    // THEN the second is usage-1
    expect([...anchors]).toEqual(['usage', 'usage-1']);
  });

  test('a comment line inside a code fence is not a heading', () => {
    // GIVEN a fenced YAML block with a comment
    const anchors = markdownAnchors('# Title\n\n```yaml\n# 1. canary\n```\n');
    // THEN only the real heading is an anchor
    expect([...anchors]).toEqual(['title']);
  });

  test('links are found with their line, but not inside code spans or fences', () => {
    // GIVEN links in text, in a code span and in a fence
    const text =
      'See [the guide](docs/a.md#x) and [`b.ts`](b.ts).\n`[not](a-link)`\n```\n[nor](this)\n```\n[ref]: c.md\n';
    // WHEN links are collected
    const links = markdownLinks(text);
    // THEN only the real ones are
    expect(links).toEqual([
      { target: 'docs/a.md#x', line: 1 },
      { target: 'b.ts', line: 1 },
      { target: 'c.md', line: 6 },
    ]);
  });
});

describe('links in the documentation', () => {
  test('the pages checked include every guide in docs/', () => {
    // THEN the guides are there (a docs/ folder without pages would make the checks below vacuous)
    expect(PAGES).toEqual(expect.arrayContaining(['README.md', 'docs/monitoring.md', 'serving-image/README.md']));
    expect(PAGES.length).toBeGreaterThan(5);
  });

  test.each(PAGES)('every relative link and #anchor in %s resolves', (page) => {
    // GIVEN the page
    // WHEN each relative link's file and heading anchor is looked up
    const problems = brokenLinks(page);
    // THEN none is missing
    expect(problems).toEqual([]);
  });

  test('a missing file, a missing heading and a link out of the repository are reported', () => {
    // GIVEN a page in docs/ with one good link and three broken ones
    const text = [
      '[good](../README.md#quickstart) [web](https://example.com/x.md)',
      '[gone](no-such-page.md)',
      '[bad anchor](../README.md#no-such-heading)',
      '[outside](../../elsewhere/README.md)',
    ].join('\n');
    // WHEN its links are checked
    const problems = brokenLinks('docs/example.md', text);
    // THEN exactly the broken ones are reported, with their lines
    expect(problems).toEqual([
      'line 2: no-such-page.md: docs/no-such-page.md does not exist',
      'line 3: ../README.md#no-such-heading: README.md has no heading #no-such-heading',
      'line 4: ../../elsewhere/README.md: outside the repository',
    ]);
  });

  test('an anchor to a heading of the same page resolves against that page', () => {
    // GIVEN a page linking to its own heading, and to one it lacks
    const text = '# Title\n\n## Alert defaults\n\n[ok](#alert-defaults) [bad](#alert-default)\n';
    // WHEN its links are checked (the page is not on disk, so the same-page anchor reads the given text)
    const problems = brokenLinks('README.md', text);
    // THEN only the misspelt anchor is reported
    expect(problems).toEqual(['line 5: #alert-default: README.md has no heading #alert-default']);
  });

  test.each(PAGES)('%s never points at ../shared (test data only on the project machines)', (page) => {
    // GIVEN the page
    const text = readFileSync(path.join(REPO_ROOT, page), 'utf8');
    // THEN it names no path under ../shared
    expect(text).not.toMatch(/\.\.\/shared\b/);
  });
});
