import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { renderStacksReference, withFreshReference } from '../../scripts/stacks-reference';
import { REPO_ROOT } from '../helpers/paths';

describe('the stacks.yaml reference in README.md', () => {
  test('is what the schema says (run `npm run docs` after changing the schema)', () => {
    // GIVEN
    const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    // THEN
    expect(withFreshReference(readme)).toBe(readme);
  });

  test('lists every key with its default and limits', () => {
    const table = renderStacksReference();
    expect(table).toContain('| `project` | string | **required** |');
    expect(table).toContain('| `image.keepVersions` | integer | `10` | 1 to 1000 |');
    expect(table).toMatch(/\| `endpoint\.access` \| enum \| `"public"` \| `public`, `dedicated`, `private-psc` \|/);
    expect(table).toContain('| `models[].replicas.min` |');
  });
});
