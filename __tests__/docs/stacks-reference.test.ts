import { withFreshSection } from '../../scripts/generated-section';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { STACKS_REFERENCE, renderStacksReference } from '../../scripts/stacks-reference';
import { REPO_ROOT } from '../helpers/paths';

describe('the stacks.yaml reference in docs/stacks-reference.md', () => {
  test('is what the schema says (run `npm run docs` after changing the schema)', () => {
    // GIVEN the page as committed
    const page = readFileSync(path.join(REPO_ROOT, STACKS_REFERENCE.file), 'utf8');
    // WHEN the table between its markers is rendered afresh
    const fresh = withFreshSection(page, STACKS_REFERENCE);
    // THEN nothing changes
    expect(fresh).toBe(page);
  });

  test('a stale table is caught', () => {
    // GIVEN a page whose table lost a row
    const page = readFileSync(path.join(REPO_ROOT, STACKS_REFERENCE.file), 'utf8');
    const stale = page.replace(/^\| `region` \|.*\n/m, '');
    // WHEN it is rendered afresh
    const fresh = withFreshSection(stale, STACKS_REFERENCE);
    // THEN the fresh page differs from the stale one (so the freshness test would fail)
    expect(stale).not.toBe(page);
    expect(fresh).not.toBe(stale);
  });

  test('a page without the markers is refused, naming the file', () => {
    // GIVEN a page without markers
    // WHEN / THEN
    expect(() => withFreshSection('# stacks.yaml reference\n', STACKS_REFERENCE)).toThrow(
      /docs\/stacks-reference\.md lacks the markers/,
    );
  });

  test('lists every key with its default and limits', () => {
    // WHEN the reference is rendered
    const table = renderStacksReference();
    // THEN keys at every depth appear with their type, default and limits
    expect(table).toContain('| `project` | string | **required** |');
    expect(table).toContain('| `image.keepVersions` | integer | `10` | 1 to 1000 |');
    expect(table).toMatch(/\| `endpoint\.access` \| enum \| `"public"` \| `public`, `dedicated`, `private-psc` \|/);
    expect(table).toContain('| `models[].replicas.min` |');
  });
});
