import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from './helpers/paths';

/** Runs main.ts the way `cdktf synth` does (ts-node with swc), with extra environment variables. */
function runMain(env: Record<string, string>) {
  return spawnSync(process.execPath, [require.resolve('ts-node/dist/bin'), '--swc', path.join(REPO_ROOT, 'main.ts')], {
    cwd: REPO_ROOT,
    env: { ...process.env, CHECKPOINT_DISABLE: '1', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('main.ts', () => {
  test('a bad stacks file prints every problem with file and line, no stack trace, and exits 1', () => {
    // GIVEN
    const dir = mkdtempSync(path.join(tmpdir(), 'main-'));
    const file = path.join(dir, 'broken.yaml');
    writeFileSync(file, 'enviroments:\n  dev:\n    project: acme-ml-dev\n');
    // WHEN
    const result = runMain({ STACKS_FILE: file, CDKTF_OUTDIR: path.join(dir, 'out') });
    // THEN
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`${file}:1: enviroments: unknown key "enviroments" (did you mean "environments"?)`);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(existsSync(path.join(dir, 'out', 'manifest.json'))).toBe(false);
  });

  test('STACKS_FILE selects the file, and every environment is synthesized', () => {
    // GIVEN
    const dir = mkdtempSync(path.join(tmpdir(), 'main-'));
    const file = path.join(dir, 'stacks.yaml');
    writeFileSync(file, 'environments:\n  dev: { project: acme-ml-dev }\n  qa: { project: acme-ml-qa1 }\n');
    // WHEN
    const result = runMain({ STACKS_FILE: file, CDKTF_OUTDIR: path.join(dir, 'out') });
    // THEN
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(existsSync(path.join(dir, 'out', 'stacks', 'dev', 'cdk.tf.json'))).toBe(true);
    expect(existsSync(path.join(dir, 'out', 'stacks', 'qa', 'cdk.tf.json'))).toBe(true);
  });

  test('a policy violation names the stacks.yaml line and key, without a stack trace, and exits 1', () => {
    // GIVEN a production environment with a public endpoint
    const dir = mkdtempSync(path.join(tmpdir(), 'main-'));
    const file = path.join(dir, 'stacks.yaml');
    writeFileSync(
      file,
      'environments:\n  dev:\n    project: acme-ml-dev\n    production: true\n    endpoint: { access: public, identity: 28bc3ca546a924c5 }\n',
    );
    // WHEN it is synthesized
    const result = runMain({ STACKS_FILE: file, CDKTF_OUTDIR: path.join(dir, 'out') });
    // THEN the message points at the key to change, and nothing else is printed
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`${file}:5: environments.dev.endpoint.access: [policy public-endpoint] `);
    expect(result.stderr).toMatch(/Fix: set `endpoint.access: private-psc`/);
    expect(result.stderr).not.toMatch(/^\s+at |Encountered Annotations/m);
  });

  test('a plan written outside the repository points the push script, build context and local state at the repository', () => {
    // GIVEN an output folder outside the repository
    const dir = mkdtempSync(path.join(tmpdir(), 'main-'));
    const file = path.join(dir, 'stacks.yaml');
    writeFileSync(file, 'environments:\n  dev: { project: acme-ml-dev }\n');
    const out = path.join(dir, 'out');
    // WHEN it is synthesized there
    const result = runMain({ STACKS_FILE: file, CDKTF_OUTDIR: out });
    // THEN the paths in the plan, resolved from the stack's folder, are the repository's files
    expect(result.status).toBe(0);
    const stackDir = path.join(out, 'stacks', 'dev');
    const plan = readFileSync(path.join(stackDir, 'cdk.tf.json'), 'utf8');
    const script = /sh \$\{path\.module\}\/([^"\s]+push-image\.sh)/.exec(plan)?.[1] ?? '';
    const context = /"CONTEXT": "\$\{path\.module\}\/([^"]+)"/.exec(plan)?.[1] ?? '';
    expect(path.resolve(stackDir, script)).toBe(path.join(REPO_ROOT, 'constructs', 'private', 'push-image.sh'));
    expect(path.resolve(stackDir, context)).toBe(path.join(REPO_ROOT, 'serving-image'));
    // AND the local state stays at the repository root, where every other plan keeps it
    const state = JSON.parse(plan).terraform.backend.local.path as string;
    expect(path.resolve(stackDir, state)).toBe(path.join(REPO_ROOT, 'terraform.dev.tfstate'));
  });
});
