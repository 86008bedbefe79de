import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { withFreshSection } from '../../scripts/generated-section';
import { PERMISSIONS_TABLE } from '../../scripts/permissions-table';
import { REPO_ROOT } from '../helpers/paths';

const page = () => readFileSync(path.join(REPO_ROOT, PERMISSIONS_TABLE.file), 'utf8');

describe('the permissions table in docs/operations.md', () => {
  test('is what IAM_NEEDS says (run `npm run docs` after changing it)', () => {
    // GIVEN the page as committed
    const committed = page();
    // WHEN the table between its markers is rendered afresh
    const fresh = withFreshSection(committed, PERMISSIONS_TABLE);
    // THEN nothing changes
    expect(fresh).toBe(committed);
  });

  test('names every resource and data source type of the table, one row each', () => {
    // GIVEN / WHEN
    const rows = PERMISSIONS_TABLE.render().split('\n').slice(2);
    // THEN
    expect(rows.map((r) => /^\| `([^`]+)`/.exec(r)?.[1])).toEqual(
      expect.arrayContaining(['google_vertex_ai_endpoint', 'terraform_data:rollout', 'data.http', 'backend.gcs']),
    );
  });
});
