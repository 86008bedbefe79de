import { Testing } from 'cdktf';
import { ProjectService } from '@cdktf/provider-google/lib/project-service';
import { GoogleProvider } from '@cdktf/provider-google/lib/provider';
import { DockerProvider } from '@cdktf/provider-docker/lib/provider';
import { REPO_ROOT } from './helpers/paths';
import { exampleStacks, stacksFromYaml, synthExampleStacks } from './helpers/synth';

/** Every stack of the example stacks.yaml, synthesized with the build context's hash pinned. */
const synthesized = exampleStacks();

describe('the example stacks.yaml', () => {
  test('gives one stack per environment, named after it', () => {
    expect(Object.keys(synthesized)).toEqual(['staging', 'prod']);
  });

  test.each(Object.keys(synthesized))('%s stack matches its snapshot (review plan changes here)', (name) => {
    expect(JSON.parse(synthesized[name])).toMatchSnapshot();
  });

  test('synthesis is deterministic: two runs give byte-identical output', () => {
    expect(synthExampleStacks()).toEqual(synthesized);
  });

  test('plans name no absolute path, user or checkout location', () => {
    for (const json of Object.values(synthesized)) {
      expect(json).not.toContain(REPO_ROOT);
      expect(json).not.toContain(process.cwd());
      expect(json).not.toMatch(/"\/(home|root|tmp|Users)\//);
    }
  });
});

describe('ServingStack', () => {
  const stackFor = (yaml: string) => Testing.synth(stacksFromYaml(yaml)[0], true);
  const MINIMAL = `environments:\n  dev:\n    project: acme-ml-dev\n    labels: { team: ml }\n`;
  /** One GPU model entry, to append to an environment of MINIMAL's shape. */
  const ONE_MODEL = `    models:\n      - { name: yolo, version: v1, artifactUri: gs://acme-models/yolo/v1, machine: { type: g2-standard-8, accelerator: NVIDIA_L4 }, traffic: 100 }\n`;
  /** MINIMAL synthesized once, for the tests that only read it. */
  const minimal = stackFor(MINIMAL);

  test('configures the google provider with project, region and default labels', () => {
    expect(minimal).toHaveProviderWithProperties(GoogleProvider, {
      project: 'acme-ml-dev',
      region: 'us-central1',
      default_labels: { team: 'ml' },
    });
  });

  test('a hyphenated label key reaches the plan as written: provider default_labels, alert policies, model labels', () => {
    // GIVEN a label key with a hyphen, as GCP allows
    const json = JSON.parse(
      stackFor(`environments:\n  dev:\n    project: acme-ml-dev\n    labels: { cost-center: ml-42 }\n${ONE_MODEL}`),
    );
    // THEN no copy of it is snake-cased (hashicorp/terraform-cdk#2681)
    expect(json.provider.google[0].default_labels).toEqual({ 'cost-center': 'ml-42' });
    for (const policy of Object.values(json.resource.google_monitoring_alert_policy) as Record<string, any>[]) {
      expect(policy.user_labels).toEqual({ 'cost-center': 'ml-42' });
    }
    expect(JSON.stringify(json)).not.toContain('cost_center');
  });

  test('authenticates Docker to the regional registry with the caller token', () => {
    expect(minimal).toHaveProviderWithProperties(DockerProvider, {
      registry_auth: [
        {
          address: 'us-central1-docker.pkg.dev',
          username: 'oauth2accesstoken',
          password: '${data.google_client_config.client.access_token}',
        },
      ],
    });
  });

  test('uses the local backend outside cdktf.out when no state bucket is given', () => {
    const json = JSON.parse(minimal);
    expect(json.terraform.backend).toEqual({ local: { path: '../../../terraform.dev.tfstate' } });
  });

  test('uses a GCS backend with the given prefix, or the environment name', () => {
    const withPrefix = JSON.parse(stackFor(`${MINIMAL}    state: { bucket: acme-tf-state, prefix: a/b }\n`));
    expect(withPrefix.terraform.backend).toEqual({ gcs: { bucket: 'acme-tf-state', prefix: 'a/b' } });
    const withoutPrefix = JSON.parse(stackFor(`${MINIMAL}    state: { bucket: acme-tf-state }\n`));
    expect(withoutPrefix.terraform.backend).toEqual({ gcs: { bucket: 'acme-tf-state', prefix: 'dev' } });
  });

  test('enables the APIs it needs and never disables them on destroy', () => {
    for (const service of ['aiplatform.googleapis.com', 'artifactregistry.googleapis.com']) {
      expect(minimal).toHaveResourceWithProperties(ProjectService, {
        service,
        project: 'acme-ml-dev',
        disable_on_destroy: false,
      });
    }
  });

  test('tells the server how many GPUs a multi-GPU machine has, unless the model sets it', () => {
    // GIVEN a 2-GPU machine, a 1-GPU machine, and a 4-GPU machine whose model sets WORKERS itself
    const model = (version: string, machine: string, extra = '') =>
      `      - { name: m, version: ${version}, artifactUri: gs://acme/m, machine: { ${machine} }, traffic: ${version === 'v1' ? 100 : 0}${extra} }\n`;
    const yaml = `${MINIMAL}    models:\n${model('v1', 'type: a2-highgpu-2g, accelerator: NVIDIA_TESLA_A100')}${model('v2', 'type: g2-standard-8, accelerator: NVIDIA_L4')}${model('v3', 'type: a2-highgpu-4g, accelerator: NVIDIA_TESLA_A100', ', env: { WORKERS: "2" }')}`;
    // WHEN
    const json = JSON.parse(stackFor(yaml));
    const models = Object.values(json.resource.terraform_data)
      .map((r: any) => r.triggers_replace?.manifest?.models)
      .find(Boolean) as Record<string, { containerSpec: { env?: { name: string; value: string }[] } }>;
    // THEN
    const counts = (m: string) =>
      models[m].containerSpec.env?.filter((e) => e.name === 'GPU_COUNT' || e.name === 'WORKERS');
    expect(counts('m@v1')).toEqual([
      { name: 'GPU_COUNT', value: '2' },
      { name: 'WORKERS', value: '2' },
    ]);
    expect(counts('m@v2')).toEqual([]);
    expect(counts('m@v3')).toEqual([
      { name: 'GPU_COUNT', value: '4' },
      { name: 'WORKERS', value: '2' },
    ]);
  });

  test('outputs the repository URL and the digest-pinned image URI', () => {
    const json = JSON.parse(minimal);
    expect(json.output.repository_url.value).toBe('us-central1-docker.pkg.dev/acme-ml-dev/serving');
    expect(json.output.image_uri.value).toMatch(
      /^us-central1-docker\.pkg\.dev\/acme-ml-dev\/serving\/server@\$\{data\.docker_registry_image\.[A-Za-z0-9_]+\.sha256_digest\}$/,
    );
  });
});

describe('the example prod environment', () => {
  const json = JSON.parse(synthesized.prod);
  const apply = json.resource.terraform_data.rollout_Apply_8D56F201;
  const teardown = json.resource.terraform_data.rollout_Teardown_E8F4A096;

  test('rolls out the 90/10 canary of v3 and v4 on a private-psc endpoint', () => {
    const deployments = Object.values(apply.triggers_replace.manifest.deployments) as {
      model: string;
      trafficPercent: number;
      minReplicaCount: number;
      maxReplicaCount: number;
    }[];
    expect(deployments.map((d) => [d.model, d.trafficPercent, d.minReplicaCount, d.maxReplicaCount]).sort()).toEqual([
      ['yolo26n@v3', 90, 2, 8],
      ['yolo26n@v4', 10, 1, 2],
    ]);
    expect(
      json.resource.google_vertex_ai_endpoint.endpoint_E7B9679B.private_service_connect_config.project_allowlist,
    ).toEqual(['acme-apps-prod']);
    expect(Object.keys(json.output.deployed_model_ids.value)).toEqual(['yolo26n@v3', 'yolo26n@v4']);
  });

  test('runs the deployer from the stack directory by a relative path, with no build step', () => {
    expect(apply.provisioner[0]['local-exec']).toMatchObject({
      command: 'node -r ts-node/register ../../../deployer/cli.ts apply',
      environment: { DEPLOYER_MANIFEST: '${jsonencode(self.triggers_replace.manifest)}', TS_NODE_SWC: 'true' },
    });
  });

  test('undeploys everything at destroy time, before the endpoint is deleted', () => {
    expect(teardown.provisioner[0]['local-exec']).toMatchObject({
      when: 'destroy',
      command: 'node -r ts-node/register ../../../deployer/cli.ts destroy',
    });
    expect(teardown.input.endpoint.endpointId).toBe('${google_vertex_ai_endpoint.endpoint_E7B9679B.name}');
    expect(apply.depends_on).toContain('terraform_data.rollout_Teardown_E8F4A096');
    expect(apply.provisioner[0]['local-exec'].when).toBeUndefined();
  });

  test('is replaced with the endpoint only, so a rollout never undeploys and a new endpoint is emptied first', () => {
    expect(teardown.triggers_replace).toEqual({ endpoint: '${google_vertex_ai_endpoint.endpoint_E7B9679B.id}' });
    expect(apply.triggers_replace.endpoint).toBe('${google_vertex_ai_endpoint.endpoint_E7B9679B.id}');
  });

  test('reads the endpoint back at plan time to show hand-made changes', () => {
    expect(Object.values(json.data.http)[0]).toMatchObject({
      url: expect.stringMatching(
        /^https:\/\/europe-west4-aiplatform\.googleapis\.com\/v1\/projects\/acme-ml-prod\/locations\/europe-west4\/endpoints\/\d{9}$/,
      ),
    });
  });

  test('only a 404 or a disabled API means "nothing there"; other failures are retried, then fail the plan instead of flipping the drift trigger', () => {
    // GIVEN the plan-time read of the endpoint
    const live = Object.values(json.data.http)[0] as {
      retry: unknown;
      lifecycle: { postcondition: { condition: string; error_message: string }[] };
    };
    // THEN
    expect(apply.triggers_replace.drift).toMatch(
      /^\$\{\(data\.http\.\w+\.status_code == 404 \|\| \(data\.http\.\w+\.status_code == 403 && strcontains\(data\.http\.\w+\.response_body, "SERVICE_DISABLED"\)\)\) \? "none" : /,
    );
    expect(live.retry).toEqual({ attempts: 3, min_delay_ms: 1000, max_delay_ms: 10000 });
    expect(live.lifecycle.postcondition).toEqual([
      {
        condition:
          '${self.status_code == 200 || (self.status_code == 404 || (self.status_code == 403 && strcontains(self.response_body, "SERVICE_DISABLED")))}',
        error_message: expect.stringMatching(
          /^Cannot read Vertex endpoint \d{9} for drift detection: HTTP \$\{self\.status_code\} \(401\/403: the planning identity needs aiplatform\.endpoints\.get/,
        ),
      },
    ]);
  });

  test("uses the stack's one google_client_config for both Docker and the plan-time read", () => {
    // THEN
    const clientConfigs = Object.keys(json.data.google_client_config);
    expect(clientConfigs).toHaveLength(1);
    const live = Object.values(json.data.http)[0] as { request_headers: Record<string, string> };
    expect(live.request_headers.Authorization).toBe(
      `Bearer \${data.google_client_config.${clientConfigs[0]}.access_token}`,
    );
  });

  test('uploads each model version with the environment labels', () => {
    // THEN
    const models = Object.values(apply.triggers_replace.manifest.models) as { labels: Record<string, string> }[];
    expect(models.map((m) => m.labels)).toEqual([
      { app: 'detector', owner: 'ml-platform' },
      { app: 'detector', owner: 'ml-platform' },
    ]);
  });
});
