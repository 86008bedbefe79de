import { execFile } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Testing } from 'cdktf';
import { parse, stringify } from 'yaml';
import { DRIFT_LABEL, STATE_LABEL } from '../../contract/manifest';
import { liveFingerprint } from '../../contract/live-state';
import { endpointIdentity } from '../../rules/vertex';
import { FakeVertex } from '../deployer/fake-vertex';
import { REPO_ROOT } from '../helpers/paths';
import { stacksFromYaml } from '../helpers/synth';

/**
 * The rollout's `terraform_data` resources run through the real `terraform init/plan/apply/destroy`
 * (offline, local state), with the deployer they start pointed at the project's Vertex fake. What
 * the stack takes from the google, docker and http providers (which cannot be downloaded here) is
 * stood in for by values this test controls:
 * - the endpoint: a `terraform_data` replaced when its name (the endpoint id) changes, as the
 *   google provider replaces a `google_vertex_ai_endpoint`; its `id` is computed, so unknown while
 *   it is being replaced, like the real one's;
 * - the image digest: a variable;
 * - the plan-time drift read (`data.http`): a variable holding the fake's answer to the same GET;
 * - every other resource the rollout `depends_on` (IAM grants): an empty `terraform_data`.
 * Everything else (triggers_replace, input/output, provisioners, `self`, `jsonencode`, depends_on,
 * the drift locals) is the synthesized JSON as it is.
 */

const TERRAFORM = onPath('terraform');
if (!TERRAFORM) {
  console.warn(
    'Skipping __tests__/terraform/rollout.integration.test.ts: the `terraform` binary is not on PATH (Terraform >= 1.5 runs the rollout for real here).',
  );
}
const describeWithTerraform = TERRAFORM ? describe : describe.skip;
// Each step runs terraform, and each rollout a ts-node deployer: seconds, not milliseconds.
jest.setTimeout(60_000);

const STACK = 'prod';
const PROJECT = 'acme-ml-prod';
const REGION = 'europe-west4';
const DIGEST = `sha256:${'d'.repeat(64)}`;
const FAKE_TOKEN = 'fake-token';

const v3 = (traffic: number) => ({
  name: 'yolo26n',
  version: 'v3',
  artifactUri: 'gs://acme-models/yolo26n/v3',
  machine: { type: 'a2-highgpu-1g', accelerator: 'NVIDIA_TESLA_A100', count: 1 },
  replicas: { min: 2, max: 8 },
  autoscaling: { acceleratorDutyCycle: 60 },
  traffic,
});
const v4 = (traffic: number, replicas: { min: number; max: number }) => ({
  name: 'yolo26n',
  version: 'v4',
  artifactUri: 'gs://acme-models/yolo26n/v4',
  machine: { type: 'a2-highgpu-1g', accelerator: 'NVIDIA_TESLA_A100', count: 1 },
  replicas,
  traffic,
});

/** The example stacks.yaml's prod environment alone, with these models (and endpoint overrides). */
function stacksYaml(models: object[], endpoint: object = {}, environment: object = {}): string {
  const example = parse(readFileSync(path.join(REPO_ROOT, 'stacks.yaml'), 'utf8'));
  const prod = example.environments[STACK];
  return stringify({
    defaults: example.defaults,
    environments: { [STACK]: { ...prod, ...environment, models, endpoint: { ...prod.endpoint, ...endpoint } } },
  });
}

type Json = Record<string, any>;

interface Rollout {
  /** main.tf.json: the rollout resources with their stand-ins. */
  config: Json;
  applyName: string;
  teardownName: string;
  /** The endpoint id the stack gives its `google_vertex_ai_endpoint`. */
  endpointId: string;
  /** The manifest as synthesized (before Terraform resolves the stand-ins). */
  manifest: Json;
  /** The deployer path in the provisioners' command, relative to the stack directory. */
  cli: string;
}

/** Synthesizes the stack of `yaml` and keeps its rollout resources, with stand-ins for the providers' resources. */
function rolloutConfig(yaml: string): Rollout {
  const stack = stacksFromYaml(yaml).find((s) => s.node.id === STACK)!;
  const synth: Json = JSON.parse(Testing.synth(stack));
  const runsDeployer = (r: Json, verb: string) =>
    (r.provisioner ?? []).some(
      (p: Json) => /\bdeployer\/cli\.ts (\w+)$/.exec(p['local-exec']?.command ?? '')?.[1] === verb,
    );
  const data: Json = synth.resource.terraform_data;
  const applyName = Object.keys(data).find((k) => runsDeployer(data[k], 'apply'))!;
  const teardownName = Object.keys(data).find((k) => runsDeployer(data[k], 'destroy'))!;
  expect([applyName, teardownName]).toEqual([expect.stringMatching(/Apply/), expect.stringMatching(/Teardown/)]);

  const [endpointResource, endpoint] = Object.entries(synth.resource.google_vertex_ai_endpoint as Json)[0];
  const endpointStandIn = `standin_google_vertex_ai_endpoint_${endpointResource}`;
  const resources: Json = {
    [endpointStandIn]: {
      triggers_replace: endpoint.name,
      input: { name: endpoint.name },
      // The production guard (prevent_destroy), as the real endpoint carries it.
      ...(endpoint.lifecycle?.prevent_destroy ? { lifecycle: { prevent_destroy: true } } : {}),
    },
  };
  const rewrite = (text: string) =>
    text
      .replaceAll(`google_vertex_ai_endpoint.${endpointResource}.id`, `terraform_data.${endpointStandIn}.id`)
      .replaceAll(`google_vertex_ai_endpoint.${endpointResource}.name`, `terraform_data.${endpointStandIn}.output.name`)
      .replace(/\bdata\.docker_registry_image\.[\w-]+\.sha256_digest\b/g, 'var.image_digest')
      .replace(/\bdata\.http\.[\w-]+\b/g, 'var.live_read');
  const rewriteAll = (value: unknown): any =>
    typeof value === 'string'
      ? rewrite(value)
      : Array.isArray(value)
        ? value.map(rewriteAll)
        : value && typeof value === 'object'
          ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rewriteAll(v)]))
          : value;
  for (const name of [teardownName, applyName]) {
    const resource = rewriteAll(data[name]);
    resource.depends_on = (resource.depends_on ?? []).map((address: string) => {
      if (address.startsWith('terraform_data.')) return address;
      const standIn = `standin_${address.replace('.', '_')}`;
      resources[standIn] = {};
      return `terraform_data.${standIn}`;
    });
    resources[name] = resource;
  }
  // The locals the rollout reads (the drift fingerprint), transitively.
  const locals: Json = {};
  let text = JSON.stringify(resources);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [name, value] of Object.entries((synth.locals ?? {}) as Json)) {
      if (!(name in locals) && text.includes(`local.${name}`)) {
        locals[name] = rewriteAll(value);
        text += JSON.stringify(locals[name]);
        grew = true;
      }
    }
  }
  // Nothing left that needs a provider.
  expect(text.match(/\b(data\.[\w-]+\.[\w-]+|google_\w+\.[\w-]+|docker_\w+\.[\w-]+)/g)).toBeNull();

  const config = {
    variable: {
      image_digest: { type: 'string' },
      live_read: { type: 'object({ status_code = number, response_body = string })' },
    },
    locals,
    resource: { terraform_data: resources },
  };
  const command: string = data[applyName].provisioner[0]['local-exec'].command;
  return {
    config,
    applyName,
    teardownName,
    endpointId: endpoint.name,
    manifest: data[applyName].triggers_replace.manifest,
    cli: command.split(' ').find((w) => w.endsWith('deployer/cli.ts'))!,
  };
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Each of `markers` occurs in `text`, in this order. */
function expectInOrder(text: string, markers: string[]): void {
  const at = markers.map((m) => text.indexOf(m));
  expect(Object.fromEntries(markers.map((m, i) => [m, at[i] >= 0]))).toEqual(
    Object.fromEntries(markers.map((m) => [m, true])),
  );
  expect(at).toEqual([...at].sort((a, b) => a - b));
}

function onPath(binary: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, binary);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

describeWithTerraform('the rollout under real Terraform (terraform_data + local-exec, offline, local state)', () => {
  const fake = new FakeVertex();
  let work: string;
  let stackDir: string;
  let env: NodeJS.ProcessEnv;
  let rollout: Rollout;
  let endpointName: string;
  const modelName = `projects/${PROJECT}/locations/${REGION}/models/yolo26n`;

  /** Runs terraform in the stack directory (asynchronously: the fake answers the deployer from this process). */
  function terraform(...args: string[]): Promise<Run> {
    return new Promise((resolve) => {
      execFile(
        TERRAFORM!,
        [args[0], '-no-color', ...(args[0] === 'show' ? [] : ['-input=false']), ...args.slice(1)],
        { cwd: stackDir, env, maxBuffer: 64 * 1024 * 1024 },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }

  /** What `data.http` would read at plan time: the fake's answer to GET endpoint. */
  async function liveRead(id: string): Promise<{ status_code: number; response_body: string }> {
    const res = await fetch(`${env.VERTEX_API_ENDPOINT}/v1/projects/${PROJECT}/locations/${REGION}/endpoints/${id}`, {
      headers: { authorization: `Bearer ${FAKE_TOKEN}` },
    });
    return { status_code: res.status, response_body: await res.text() };
  }

  /** Synthesizes `yaml` into the stack directory (main.tf.json) with this moment's live read. */
  async function synth(yaml: string): Promise<Rollout> {
    rollout = rolloutConfig(yaml);
    writeFileSync(path.join(stackDir, 'main.tf.json'), JSON.stringify(rollout.config, null, 2));
    await refreshLiveRead();
    return rollout;
  }

  async function refreshLiveRead(): Promise<void> {
    const vars = { image_digest: DIGEST, live_read: await liveRead(rollout.endpointId) };
    writeFileSync(path.join(stackDir, 'terraform.tfvars.json'), JSON.stringify(vars, null, 2));
  }

  /** `terraform plan -detailed-exitcode` into `tfplan`: the exit code and each resource's planned actions. */
  async function plan(): Promise<{ code: number; actions: Record<string, string[]>; output: string }> {
    const planned = await terraform('plan', '-detailed-exitcode', '-out=tfplan');
    if (planned.code === 1) throw new Error(`terraform plan failed:\n${planned.stdout}\n${planned.stderr}`);
    const shown = await terraform('show', '-json', 'tfplan');
    const actions = Object.fromEntries(
      (JSON.parse(shown.stdout).resource_changes ?? []).map((c: Json) => [c.name, c.change.actions]),
    );
    return { code: planned.code, actions, output: planned.stdout };
  }

  /** `terraform apply tfplan`; fails the test with Terraform's output when it fails. */
  async function applyPlan(): Promise<string> {
    const applied = await terraform('apply', 'tfplan');
    if (applied.code !== 0) throw new Error(`terraform apply failed:\n${applied.stdout}\n${applied.stderr}`);
    return applied.stdout;
  }

  /** The requests the fake received while `action` ran. */
  async function requestsDuring(action: () => Promise<unknown>): Promise<string[]> {
    const from = fake.requests.length;
    await action();
    return fake.requests.slice(from);
  }

  const endpoint = () => fake.endpoints.get(endpointName)!;
  const deployedIds = () => endpoint().deployedModels.map((d) => d.id);

  beforeAll(async () => {
    const baseUrl = await fake.start();
    // Three levels below the repository root, like cdktf.out/stacks/<stack>, so the provisioners'
    // relative `../../../deployer/cli.ts` is this checkout's deployer.
    mkdirSync(path.join(REPO_ROOT, '.cache'), { recursive: true });
    work = mkdtempSync(path.join(REPO_ROOT, '.cache', 'tf-it-'));
    stackDir = path.join(work, STACK);
    mkdirSync(stackDir);
    writeFileSync(path.join(work, 'terraformrc'), '');
    env = {
      ...process.env,
      TF_IN_AUTOMATION: '1',
      CHECKPOINT_DISABLE: '1',
      TF_CLI_CONFIG_FILE: path.join(work, 'terraformrc'),
      // Terraform passes its environment on to local-exec: this is how the deployer finds the fake.
      VERTEX_API_ENDPOINT: baseUrl,
      GOOGLE_OAUTH_ACCESS_TOKEN: FAKE_TOKEN,
      DEPLOYER_POLL_SECONDS: '0.01',
      DEPLOYER_BACKOFF_MS: '1',
      DEPLOYER_BACKOFF_MAX_MS: '4',
    };
    for (const key of Object.keys(env)) if (key.startsWith('TF_VAR_') || key === 'TF_CLI_ARGS') delete env[key];
  });
  afterAll(async () => {
    await fake.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('terraform init works offline: the rollout needs no provider but the built-in terraform_data', async () => {
    // GIVEN the stack with v3 alone, in a directory laid out like cdktf.out/stacks/prod
    await synth(stacksYaml([v3(100)]));
    endpointName = `projects/${PROJECT}/locations/${REGION}/endpoints/${rollout.endpointId}`;
    fake.addEndpoint(PROJECT, REGION, rollout.endpointId); // as google_vertex_ai_endpoint would
    expect(path.resolve(stackDir, rollout.cli)).toBe(path.join(REPO_ROOT, 'deployer', 'cli.ts'));
    // WHEN
    const init = await terraform('init', '-backend=false');
    // THEN
    expect(init.stderr).toBe('');
    expect(init.code).toBe(0);
    expect(init.stdout).toContain('Terraform has been successfully initialized');
  });

  test('first apply: Teardown is created before Apply, whose local-exec deployer uploads, deploys, then sets the traffic', async () => {
    // GIVEN a plan of the first deploy
    const planned = await plan();
    expect(planned.code).toBe(2);
    expect(planned.actions[rollout.applyName]).toEqual(['create']);
    expect(planned.actions[rollout.teardownName]).toEqual(['create']);
    // WHEN
    let output = '';
    const requests = await requestsDuring(async () => {
      output = await applyPlan();
    });
    // THEN the provisioner ran after Teardown was created, its output is in Terraform's
    expectInOrder(output, [
      `terraform_data.${rollout.teardownName}: Creation complete`,
      `terraform_data.${rollout.applyName}: Creating...`,
      `terraform_data.${rollout.applyName} (local-exec): [deployer`,
      `Rollout to ${endpointName} done`,
    ]);
    expect(output).not.toContain(`terraform_data.${rollout.teardownName} (local-exec)`);
    // AND the manifest reached the deployer whole (jsonencode of triggers_replace.manifest, stand-ins resolved)
    const [id] = Object.keys(rollout.manifest.deployments);
    expect(fake.models.get(modelName)!.map((v) => v.versionAliases)).toEqual([['default', 'v3']]);
    expect(fake.models.get(modelName)![0].containerSpec!.imageUri).toMatch(new RegExp(`/server@${DIGEST}$`));
    expect(deployedIds()).toEqual([id]);
    expect(endpoint().deployedModels[0].dedicatedResources).toMatchObject({
      minReplicaCount: 2,
      maxReplicaCount: 8,
      machineSpec: { machineType: 'a2-highgpu-1g', acceleratorType: 'NVIDIA_TESLA_A100', acceleratorCount: 1 },
      autoscalingMetricSpecs: [{ metricName: expect.stringContaining('duty_cycle'), target: 60 }],
    });
    expect(endpoint().trafficSplit).toEqual({ [id]: 100 });
    const mutations = requests.filter((r) => !r.startsWith('GET '));
    expect(mutations).toEqual([
      `POST projects/${PROJECT}/locations/${REGION}/models:upload`,
      `POST ${endpointName}:deployModel`,
      `PATCH ${endpointName}`, // traffic split
      `PATCH ${endpointName}`, // state label
    ]);
    expect(endpoint().labels[STATE_LABEL]).toBe(liveFingerprint(endpoint()));
  });

  test('a re-apply plans no change: the drift read (fingerprint computed by Terraform) matches what the deployer recorded', async () => {
    // GIVEN the same stacks.yaml, synthesized again, and the endpoint read back as it is now
    await synth(stacksYaml([v3(100)]));
    // WHEN
    let planned: Awaited<ReturnType<typeof plan>> | undefined;
    const requests = await requestsDuring(async () => {
      planned = await plan();
    });
    // THEN
    expect(planned!.code).toBe(0);
    expect(planned!.output).toContain('No changes');
    expect(requests).toEqual([]); // no provisioner ran at plan time
  });

  test('canary: a new stacks.yaml replaces Apply (triggers_replace), leaves Teardown alone, and deploys v4 next to v3 at 10 %', async () => {
    // GIVEN v4 added next to v3, 90/10
    await synth(stacksYaml([v3(90), v4(10, { min: 1, max: 2 })]));
    const planned = await plan();
    expect(planned.code).toBe(2);
    expect(planned.actions[rollout.applyName]).toEqual(['delete', 'create']);
    expect(planned.actions[rollout.teardownName]).toEqual(['no-op']);
    expect(planned.output).toContain(`# terraform_data.${rollout.applyName} must be replaced`);
    // WHEN
    let output = '';
    const requests = await requestsDuring(async () => {
      output = await applyPlan();
    });
    // THEN Apply's replacement did not undeploy anything, and v4 was deployed before the split moved
    const ids = rollout.manifest.deployments as Json;
    const idOf = (model: string) => Object.keys(ids).find((k) => ids[k].model === model)!;
    expect(output).not.toContain('deployer destroy');
    const mutations = requests.filter((r) => !r.startsWith('GET '));
    expect(mutations).toEqual([
      `POST projects/${PROJECT}/locations/${REGION}/models:upload`,
      `POST ${endpointName}:deployModel`,
      `PATCH ${endpointName}`,
      `PATCH ${endpointName}`,
    ]);
    expect(fake.models.get(modelName)!.map((v) => v.versionAliases)).toEqual([['default', 'v3'], ['v4']]);
    expect(deployedIds()).toEqual([idOf('yolo26n@v3'), idOf('yolo26n@v4')]);
    expect(endpoint().trafficSplit).toEqual({ [idOf('yolo26n@v3')]: 90, [idOf('yolo26n@v4')]: 10 });
    // AND the next plan is empty again
    await refreshLiveRead();
    expect((await plan()).code).toBe(0);
  });

  test('promote: v4 takes all the traffic and its replicas change in place, then v3 is undeployed', async () => {
    // GIVEN
    const previous = rollout.manifest.deployments as Json;
    const v3Id = Object.keys(previous).find((k) => previous[k].model === 'yolo26n@v3')!;
    const v4Id = Object.keys(previous).find((k) => previous[k].model === 'yolo26n@v4')!;
    await synth(stacksYaml([v4(100, { min: 2, max: 8 })]));
    expect(Object.keys(rollout.manifest.deployments)).toEqual([v4Id]); // replicas keep the id
    const planned = await plan();
    expect(planned.actions[rollout.applyName]).toEqual(['delete', 'create']);
    expect(planned.actions[rollout.teardownName]).toEqual(['no-op']);
    // WHEN
    const requests = await requestsDuring(applyPlan);
    // THEN
    expect(requests.filter((r) => !r.startsWith('GET '))).toEqual([
      `POST ${endpointName}:mutateDeployedModel`,
      `PATCH ${endpointName}`, // traffic to v4
      `POST ${endpointName}:undeployModel`,
      `PATCH ${endpointName}`, // state label
    ]);
    expect(deployedIds()).toEqual([v4Id]);
    expect(endpoint().deployedModels[0].dedicatedResources).toMatchObject({ minReplicaCount: 2, maxReplicaCount: 8 });
    expect(endpoint().trafficSplit).toEqual({ [v4Id]: 100 });
    expect(v3Id).not.toBe(v4Id);
  });

  test('drift: a hand-made change plans a rollout that puts it back, after which the plan is empty', async () => {
    // GIVEN someone resized v4 by hand
    endpoint().deployedModels[0].dedicatedResources.minReplicaCount = 1;
    await refreshLiveRead();
    // WHEN
    const planned = await plan();
    // THEN
    expect(planned.code).toBe(2);
    expect(planned.actions[rollout.applyName]).toEqual(['delete', 'create']);
    expect(planned.output).toMatch(/~ drift\s+= "none" -> "[0-9a-f]{16}"/);
    const requests = await requestsDuring(applyPlan);
    expect(requests.filter((r) => !r.startsWith('GET '))).toContain(`POST ${endpointName}:mutateDeployedModel`);
    expect(endpoint().deployedModels[0].dedicatedResources.minReplicaCount).toBe(2);
    expect(endpoint().labels[DRIFT_LABEL]).toMatch(/^[0-9a-f]{16}$/);
    await refreshLiveRead();
    expect((await plan()).code).toBe(0);
  });

  test('a replaced endpoint: Teardown undeploys from the old one (destroy-time self.output) before Apply deploys to the new one', async () => {
    // GIVEN stacks.yaml gives the endpoint another id, which replaces google_vertex_ai_endpoint
    // (a production endpoint: the replacement is acknowledged with its new identity, see docs/operations.md)
    const oldName = endpointName;
    const oldId = rollout.endpointId;
    const identity = endpointIdentity({
      environment: STACK,
      project: PROJECT,
      region: REGION,
      access: 'private-psc',
      endpointId: '987654321',
    });
    const replaced = (environment: object) =>
      stacksYaml([v4(100, { min: 2, max: 8 })], { endpointId: '987654321', identity }, environment);
    // (the production guard refuses the replacement until allowDestroy says it is meant)
    await synth(replaced({}));
    const guarded = await terraform('plan');
    expect(guarded.code).toBe(1);
    expect(guarded.stderr).toMatch(/Instance cannot be destroyed/);
    await synth(replaced({ allowDestroy: true }));
    expect(rollout.endpointId).toBe('987654321');
    endpointName = `projects/${PROJECT}/locations/${REGION}/endpoints/${rollout.endpointId}`;
    fake.addEndpoint(PROJECT, REGION, rollout.endpointId); // what the google provider would create
    const planned = await plan();
    expect(planned.actions[rollout.teardownName]).toEqual(['delete', 'create']);
    expect(planned.actions[rollout.applyName]).toEqual(['delete', 'create']);
    // WHEN
    let output = '';
    const requests = await requestsDuring(async () => {
      output = await applyPlan();
    });
    // THEN the old endpoint was emptied (traffic first), then the new one was deployed
    const mutations = requests.filter((r) => !r.startsWith('GET '));
    expect(mutations).toEqual([
      `PATCH ${oldName}`, // empty traffic split
      `POST ${oldName}:undeployModel`,
      `POST ${endpointName}:deployModel`,
      `PATCH ${endpointName}`,
      `PATCH ${endpointName}`,
    ]);
    expect(fake.endpoints.get(oldName)!.deployedModels).toEqual([]);
    expectInOrder(output, [
      `terraform_data.${rollout.teardownName}: Destroying...`,
      `terraform_data.${rollout.teardownName} (local-exec): [deployer`,
      `terraform_data.${rollout.teardownName}: Creation complete`,
      `terraform_data.${rollout.applyName}: Creating...`,
      `terraform_data.${rollout.applyName} (local-exec): [deployer`,
    ]);
    expect(deployedIds()).toEqual(Object.keys(rollout.manifest.deployments));
    expect(oldId).not.toBe(rollout.endpointId);
  });

  test('terraform destroy: Teardown (destroy-time self.output) empties the traffic split and undeploys everything; models stay', async () => {
    // GIVEN the stack as last synthesized, with allowDestroy: true (production is otherwise guarded)
    expect(JSON.stringify(rollout.config)).not.toContain('prevent_destroy');
    await refreshLiveRead();
    // WHEN
    let destroyed: Run | undefined;
    const requests = await requestsDuring(async () => {
      destroyed = await terraform('destroy', '-auto-approve');
    });
    // THEN
    expect(destroyed!.code).toBe(0);
    expect(destroyed!.stdout).toContain(`terraform_data.${rollout.teardownName} (local-exec): [deployer`);
    expect(destroyed!.stdout).toContain(`Nothing deployed on ${endpointName} any more`);
    // AND Apply (no destroy-time action) went first, Teardown's undeploy after it
    expectInOrder(destroyed!.stdout, [
      `terraform_data.${rollout.applyName}: Destruction complete`,
      `terraform_data.${rollout.teardownName}: Destroying...`,
      `terraform_data.${rollout.teardownName} (local-exec): [deployer`,
    ]);
    expect(destroyed!.stdout).not.toContain(`terraform_data.${rollout.applyName} (local-exec)`);
    expect(requests.filter((r) => !r.startsWith('GET '))).toEqual([
      `PATCH ${endpointName}`,
      `POST ${endpointName}:undeployModel`,
    ]);
    expect(endpoint().deployedModels).toEqual([]);
    expect(endpoint().trafficSplit).toEqual({});
    expect(fake.models.get(modelName)!.map((v) => v.versionAliases)).toEqual([['default', 'v3'], ['v4']]);
    const state = JSON.parse(readFileSync(path.join(stackDir, 'terraform.tfstate'), 'utf8'));
    expect(state.resources).toEqual([]);
  });
});
