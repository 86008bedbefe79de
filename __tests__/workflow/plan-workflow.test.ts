import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parse } from 'yaml';
import { loadStacksConfig } from '../../config/load';
import { REPO_ROOT } from '../helpers/paths';

// The workflow cannot run here (no GitHub, no GCP): these tests check that everything it calls exists.

interface Step {
  id?: string;
  if?: string;
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  if?: string;
  concurrency?: { group: string; 'cancel-in-progress'?: boolean };
  needs?: string | string[];
  permissions?: Record<string, string>;
  steps: Step[];
}
interface Workflow {
  on: Record<string, unknown>;
  env?: Record<string, string>;
  jobs: Record<string, Job>;
}

/** True for a pull request from a branch of this repository, false for one from a fork. */
const SAME_REPOSITORY = 'github.event.pull_request.head.repo.full_name == github.repository';

const WORKFLOW_FILE = path.join(REPO_ROOT, '.github', 'workflows', 'plan.yml');
const workflow = parse(readFileSync(WORKFLOW_FILE, 'utf8')) as Workflow;
const packageJson = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  devDependencies: Record<string, string>;
};
const environments = Object.keys(loadStacksConfig(path.join(REPO_ROOT, 'stacks.yaml')).environments);
const allSteps = Object.entries(workflow.jobs).flatMap(([job, j]) => j.steps.map((step) => ({ job, step })));
const runLines = allSteps.flatMap(({ job, step }) =>
  (step.run ?? '')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => ({ job, line })),
);

describe('the plan workflow', () => {
  test('runs on pull requests and on pushes to main', () => {
    // THEN
    expect(Object.keys(workflow.on).sort()).toEqual(['pull_request', 'push']);
    expect(workflow.on.push).toEqual({ branches: ['main'] });
  });

  test('every `npm run` script and `npm test` it calls exists in package.json', () => {
    // GIVEN
    const scripts = runLines.flatMap(({ line }) => [
      ...[...line.matchAll(/npm run ([\w:-]+)/g)].map((m) => m[1]),
      ...(/\bnpm test\b/.test(line) ? ['test'] : []),
    ]);
    // THEN
    expect(scripts).toEqual(expect.arrayContaining(['setup', 'test']));
    for (const script of scripts) {
      expect(packageJson.scripts).toHaveProperty([script]);
    }
  });

  test('every `npx` binary it calls is installed by the setup', () => {
    // GIVEN
    const binaries = runLines.flatMap(({ line }) => [...line.matchAll(/npx ([\w@/.-]+)/g)].map((m) => m[1]));
    // THEN
    expect(binaries).toContain('cdktf');
    for (const bin of binaries) {
      expect(existsSync(path.join(REPO_ROOT, 'node_modules', '.bin', bin))).toBe(true);
    }
    expect(packageJson.devDependencies).toHaveProperty(['cdktf-cli']);
  });

  test('every repository file a step reads exists', () => {
    // GIVEN the file names in run lines, minus the files the job itself writes
    const written = new Set(['diff.txt', 'comment.md']);
    const files = runLines
      .flatMap(({ line }) => [...line.matchAll(/['"\s]([\w./-]+\.(?:ya?ml|json|ts|txt|md))\b/g)].map((m) => m[1]))
      .filter((f) => !written.has(f));
    // THEN
    expect(files).toContain('stacks.yaml');
    for (const file of files) {
      expect(existsSync(path.join(REPO_ROOT, file))).toBe(true);
    }
    const readsWrittenFiles = allSteps.flatMap(({ step }) =>
      typeof step.with?.path === 'string' ? [step.with.path] : [],
    );
    for (const file of readsWrittenFiles) {
      expect(written.has(file)).toBe(true);
    }
  });

  test('installs from the lockfile, onnxruntime-node download skipped by the setup script', () => {
    // THEN: every job installs from the lockfile (the test job with the README's own setup command)...
    const installs = (run: unknown) => typeof run === 'string' && /^npm (ci|run setup)\b/.test(run);
    for (const [name, job] of Object.entries(workflow.jobs)) {
      expect({ name, installs: job.steps.some((s) => installs(s.run)) }).toEqual({ name, installs: true });
    }
    expect(packageJson.scripts.setup).toMatch(/^ONNXRUNTIME_NODE_INSTALL=skip npm ci && /);
    expect(existsSync(path.join(REPO_ROOT, 'package-lock.json'))).toBe(true);
    // ...without onnxruntime-node's CUDA download, and without cdktf telemetry calls.
    expect(workflow.env).toMatchObject({ CHECKPOINT_DISABLE: '1', ONNXRUNTIME_NODE_INSTALL: 'skip' });
  });

  test.each(['package-lock.json', 'serving-image/package-lock.json'])(
    "%s lists other platforms' optional binaries, so npm ci accepts it and npm install leaves it as it is",
    (file) => {
      // GIVEN the committed lockfile
      const lock = JSON.parse(readFileSync(path.join(REPO_ROOT, file), 'utf8'));
      const packages = Object.keys(lock.packages);
      // THEN it holds the binaries of platforms other than this Linux machine (npm/cli#8669, #4828)
      expect(packages).toEqual(
        expect.arrayContaining(['node_modules/@img/sharp-darwin-arm64', 'node_modules/@img/sharp-win32-x64']),
      );
      if (file === 'package-lock.json') {
        expect(packages).toEqual(
          expect.arrayContaining(['node_modules/@swc/core-darwin-arm64', 'node_modules/@biomejs/cli-win32-x64']),
        );
      }
    },
  );

  test('the environment list step prints the environments of stacks.yaml', () => {
    // GIVEN the step's own shell line, run as GitHub would in the repository root
    const step = workflow.jobs.test.steps.find((s) => s.id === 'environments');
    const output = path.join(mkdtempSync(path.join(tmpdir(), 'gh-output-')), 'GITHUB_OUTPUT');
    // WHEN
    execFileSync('bash', ['-e', '-c', step?.run ?? 'false'], {
      cwd: REPO_ROOT,
      env: { ...process.env, GITHUB_OUTPUT: output },
    });
    // THEN
    const line = readFileSync(output, 'utf8').trim();
    expect(line.startsWith('list=')).toBe(true);
    expect(JSON.parse(line.slice('list='.length))).toEqual(environments);
  });

  test('diffs every environment on pull requests and comments the plan', () => {
    // GIVEN
    const diff = workflow.jobs.diff;
    expect(diff.if).toBe(`github.event_name == 'pull_request' && ${SAME_REPOSITORY}`);
    expect(JSON.stringify(diff)).toContain('fromJSON(needs.test.outputs.environments)');
    expect(runLines.filter(({ job }) => job === 'diff').map(({ line }) => line)).toContain(
      'npx cdktf diff "$STACK" --no-color 2>&1 | tee diff.txt',
    );
    expect(diff.steps.some((s) => s.uses?.startsWith('marocchino/sticky-pull-request-comment@'))).toBe(true);
    expect(diff.permissions).toMatchObject({ 'pull-requests': 'write' });
  });

  test("a fork's pull request gets a clear note instead of a failing diff job", () => {
    // GIVEN the note step of the test job
    const note = workflow.jobs.test.steps.find((s) => s.if?.includes('head.repo.full_name'));
    expect(note?.if).toBe(`github.event_name == 'pull_request' && ${SAME_REPOSITORY.replace('==', '!=')}`);
    const summary = path.join(mkdtempSync(path.join(tmpdir(), 'gh-summary-')), 'SUMMARY');
    // WHEN its shell runs as GitHub would
    const stdout = execFileSync('bash', ['-e', '-c', note?.run ?? 'false'], {
      cwd: REPO_ROOT,
      env: { ...process.env, GITHUB_STEP_SUMMARY: summary },
    }).toString();
    // THEN the run page shows why there is no plan, and the diff job (credentials, comment) is skipped
    expect(stdout).toMatch(/^::notice title=No plan for a fork::.*fork.*no cdktf diff/m);
    expect(readFileSync(summary, 'utf8')).toMatch(/comes from a fork.*no cloud credentials/);
    expect(workflow.jobs.diff.if).toContain(SAME_REPOSITORY);
  });

  test("plans and the staging deploy wait for each other's state lock instead of failing", () => {
    // THEN Terraform waits for a held lock in plan (cdktf diff) and apply (cdktf deploy)...
    expect(workflow.env).toMatchObject({
      TF_CLI_ARGS_plan: '-lock-timeout=20m',
      TF_CLI_ARGS_apply: '-lock-timeout=20m',
    });
    // ...one plan per pull request and environment at a time, never cancelled while holding the lock...
    expect(workflow.jobs.diff.concurrency).toEqual({
      group: 'diff-${{ github.event.pull_request.number }}-${{ matrix.environment }}',
      'cancel-in-progress': false,
    });
    // ...and the deploy shares its group with no other job: GitHub cancels a group's older pending
    // job, so a shared group would let a pull request's plan drop a queued staging deploy.
    const deploy = workflow.jobs['deploy-staging'].concurrency;
    expect(deploy).toEqual({ group: 'deploy-staging', 'cancel-in-progress': false });
    const groups = Object.values(workflow.jobs).map((j) => j.concurrency?.group?.replace(/\$\{\{[^}]*\}\}/g, '*'));
    expect(groups.filter((g) => g === deploy?.group)).toHaveLength(1);
  });

  test('deploys staging, an environment of stacks.yaml, only on pushes to main', () => {
    // GIVEN
    const deploy = workflow.jobs['deploy-staging'];
    expect(deploy.if).toBe("github.event_name == 'push' && github.ref == 'refs/heads/main'");
    const deployLines = runLines.filter(({ job }) => job === 'deploy-staging').map(({ line }) => line);
    expect(deployLines).toContain('npx cdktf deploy staging --auto-approve --no-color');
    expect(environments).toContain('staging');
  });

  test('smoke tests the staging endpoint right after the deploy, so a failing smoke test fails the run', () => {
    // GIVEN the deploy job's steps
    const steps = workflow.jobs['deploy-staging'].steps;
    const deploy = steps.findIndex((s) => s.run === 'npx cdktf deploy staging --auto-approve --no-color');
    const smoke = steps.findIndex((s) => s.run === 'npm run smoke -- staging');
    // THEN the smoke test is the next step, with nothing letting its failure pass (no `if: always()`,
    // no continue-on-error, no `|| true`)
    expect(deploy).toBeGreaterThanOrEqual(0);
    expect(smoke).toBe(deploy + 1);
    expect(steps[smoke]).not.toHaveProperty('if');
    expect(steps[smoke]).not.toHaveProperty('continue-on-error');
    expect(packageJson.scripts.smoke).toBe('ts-node --swc scripts/smoke.ts');
  });

  test('authenticates to Google Cloud with Workload Identity Federation, never a key', () => {
    // THEN
    for (const [name, job] of Object.entries(workflow.jobs)) {
      const auth = job.steps.find((s) => s.uses?.startsWith('google-github-actions/auth@'));
      if (!auth) continue;
      expect({ name, with: Object.keys(auth.with ?? {}).sort() }).toEqual({
        name,
        with: ['service_account', 'workload_identity_provider'],
      });
      expect({ name, idToken: job.permissions?.['id-token'] }).toEqual({ name, idToken: 'write' });
    }
    expect(readFileSync(WORKFLOW_FILE, 'utf8')).not.toMatch(/credentials_json|secrets\./);
  });

  test('pins every action to a major version', () => {
    // THEN
    for (const { step } of allSteps.filter(({ step }) => step.uses)) {
      expect(step.uses).toMatch(/^[\w.-]+\/[\w.-]+@v\d+$/);
    }
  });
});
