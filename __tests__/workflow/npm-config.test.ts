import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from '../helpers/paths';

describe('npm configuration', () => {
  test('npm commands in the repository print no config warning', () => {
    // GIVEN the repository's .npmrc
    // WHEN npm runs a command there (cdktf synth runs several)
    const result = spawnSync('npm', ['exec', '--offline', '--', 'node', '-e', ''], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    // THEN npm warns about nothing (npm 11: "Unknown project config")
    expect(result.status).toBe(0);
    expect(result.stderr).not.toMatch(/npm warn/i);
  });

  test("the setup script installs without onnxruntime-node's GPU download", () => {
    // GIVEN package.json
    const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
    // THEN its install runs with the flag onnxruntime-node's install script reads
    expect(pkg.scripts.setup).toMatch(/^ONNXRUNTIME_NODE_INSTALL=skip npm ci(\s|$)/);
  });
});
