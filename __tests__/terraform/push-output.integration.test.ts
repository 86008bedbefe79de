import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Testing } from 'cdktf';
import { REPO_ROOT } from '../helpers/paths';
import { exampleStackConstructs } from '../helpers/synth';

/**
 * The image push (`terraform_data.image_Push`, push-image.sh in a local-exec) under real
 * Terraform: its output must reach the person deploying, so a failing `docker build` shows why.
 * Terraform hides all of a provisioner's output when its environment holds a sensitive value
 * (hashicorp/terraform#27154); the push used to get the plan's access token that way. Docker is a
 * stand-in on PATH that records its calls; Terraform runs offline with local state.
 */
const terraform = spawnSync('terraform', ['-version']).status === 0;
if (!terraform) console.warn('terraform is not on PATH: the push output test is skipped');

(terraform ? describe : describe.skip)('the image push under real Terraform', () => {
  let work: string;
  const made: string[] = [];

  beforeAll(() => {
    mkdirSync(path.join(REPO_ROOT, '.cache'), { recursive: true });
    work = mkdtempSync(path.join(REPO_ROOT, '.cache', 'tf-push-'));
    writeFileSync(path.join(work, 'terraformrc'), '');
    mkdirSync(path.join(work, 'bin'));
    writeFileSync(
      path.join(work, 'bin', 'docker'),
      `#!/bin/sh\n[ "$1" = login ] && cat >/dev/null\necho "docker-stub: $1"\n[ "$1" = manifest ] && exit 1\nexit 0\n`,
    );
    chmodSync(path.join(work, 'bin', 'docker'), 0o755);
  });
  afterAll(() => {
    for (const dir of [work, ...made]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The synthesized push of the example prod stack, alone, with `extraEnvironment` added to its local-exec. */
  function pushConfig(extra: { variable?: Record<string, unknown>; environment?: Record<string, string> } = {}) {
    const prod = exampleStackConstructs().find((s) => s.node.id === 'prod')!;
    const json = JSON.parse(Testing.synth(prod));
    const [name, push] = Object.entries(json.resource.terraform_data).find(([id]) => id.startsWith('image_Push')) as [
      string,
      Record<string, any>,
    ];
    delete push.depends_on; // the repository needs the google provider
    const exec = push.provisioner[0]['local-exec'];
    exec.environment = { ...exec.environment, ...extra.environment };
    return { name, config: { variable: extra.variable, resource: { terraform_data: { [name]: push } } } };
  }

  /** `terraform init` and `apply` of `config` in a fresh stack directory; Terraform's output. */
  function apply(config: object): { code: number | null; output: string } {
    // Three levels below the repository root, like cdktf.out/stacks/prod, so the provisioner's
    // relative path reaches this checkout's push-image.sh.
    const stackDir = path.join(mkdtempSync(path.join(REPO_ROOT, '.cache', 'tf-push-stack-')), 'prod');
    made.push(path.dirname(stackDir));
    mkdirSync(stackDir);
    writeFileSync(path.join(stackDir, 'main.tf.json'), JSON.stringify(config));
    const env = {
      ...process.env,
      PATH: `${path.join(work, 'bin')}:${process.env.PATH}`,
      TF_IN_AUTOMATION: '1',
      CHECKPOINT_DISABLE: '1',
      TF_CLI_CONFIG_FILE: path.join(work, 'terraformrc'),
      GOOGLE_OAUTH_ACCESS_TOKEN: 'token-from-the-environment',
      TF_VAR_token: 'token-from-the-plan',
    };
    const run = (...args: string[]) => spawnSync('terraform', args, { cwd: stackDir, env, encoding: 'utf8' });
    const init = run('init', '-backend=false', '-input=false');
    expect(init.status).toBe(0);
    const result = run('apply', '-auto-approve', '-input=false', '-no-color');
    return { code: result.status, output: `${result.stdout}${result.stderr}` };
  }

  test("the push script's output is in Terraform's output: the build and push steps show", () => {
    // GIVEN the push as synthesized: no sensitive value in its environment
    const { name, config } = pushConfig();
    // WHEN Terraform applies it
    const { code, output } = apply(config);
    // THEN the script's own lines reach the person deploying
    expect(code).toBe(0);
    expect(output).toContain(`terraform_data.${name} (local-exec): push-image: building`);
    expect(output).toContain(`terraform_data.${name} (local-exec): docker-stub: build`);
    expect(output).toContain(`terraform_data.${name} (local-exec): push-image: pushing`);
    expect(output).not.toContain('output suppressed');
  });

  test('a sensitive value in the environment would hide all of it (why the token is not passed by Terraform)', () => {
    // GIVEN the push with a sensitive variable in its environment, as the plan's access token was
    const { name, config } = pushConfig({
      variable: { token: { type: 'string', sensitive: true } },
      environment: { REGISTRY_TOKEN: '${var.token}' },
    });
    // WHEN Terraform applies it
    const { code, output } = apply(config);
    // THEN Terraform suppresses the script's output
    expect(code).toBe(0);
    expect(output).toContain(
      `terraform_data.${name} (local-exec): (output suppressed due to sensitive value in config)`,
    );
    expect(output).not.toContain('push-image: building');
  });
});
