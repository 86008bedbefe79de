import * as path from 'node:path';
import { Testing } from 'cdktf';
import { ProjectService } from '@cdktf/provider-google/lib/project-service';
import { GoogleProvider } from '@cdktf/provider-google/lib/provider';
import { DockerProvider } from '@cdktf/provider-docker/lib/provider';
import { loadStacksConfig, parseStacksConfig } from '../config/load';
import { buildApp } from '../main';
import { PINNED_CONTEXT_HASH, REPO_ROOT } from './helpers/synth';

const EXAMPLE = loadStacksConfig(path.join(REPO_ROOT, 'stacks.yaml'));

/** Every stack of the example stacks.yaml, synthesized with the build context's hash pinned. */
function synthExample(): Record<string, string> {
  const app = Testing.app();
  const stacks = buildApp(app, EXAMPLE, { root: REPO_ROOT, contextHash: PINNED_CONTEXT_HASH });
  return Object.fromEntries(stacks.map((s) => [s.node.id, Testing.synth(s, true)]));
}

const synthesized = synthExample();

describe('the example stacks.yaml', () => {
  test('gives one stack per environment, named after it', () => {
    expect(Object.keys(synthesized)).toEqual(['staging', 'prod']);
  });

  test.each(Object.keys(synthesized))('%s stack matches its snapshot (review plan changes here)', (name) => {
    expect(JSON.parse(synthesized[name])).toMatchSnapshot();
  });

  test('synthesis is deterministic: two runs give byte-identical output', () => {
    expect(synthExample()).toEqual(synthesized);
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
  const stackFor = (yaml: string) => {
    const app = Testing.app();
    const [stack] = buildApp(app, parseStacksConfig(yaml), { root: REPO_ROOT, contextHash: PINNED_CONTEXT_HASH });
    return Testing.synth(stack, true);
  };
  const MINIMAL = `environments:\n  dev:\n    project: acme-ml-dev\n    labels: { team: ml }\n`;

  test('configures the google provider with project, region and default labels', () => {
    expect(stackFor(MINIMAL)).toHaveProviderWithProperties(GoogleProvider, {
      project: 'acme-ml-dev',
      region: 'us-central1',
      default_labels: { team: 'ml' },
    });
  });

  test('authenticates Docker to the regional registry with the caller token', () => {
    expect(stackFor(MINIMAL)).toHaveProviderWithProperties(DockerProvider, {
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
    const json = JSON.parse(stackFor(MINIMAL));
    expect(json.terraform.backend).toEqual({ local: { path: '../../../terraform.dev.tfstate' } });
  });

  test('uses a GCS backend with the given prefix, or the environment name', () => {
    const withPrefix = JSON.parse(stackFor(`${MINIMAL}    state: { bucket: acme-tf-state, prefix: a/b }\n`));
    expect(withPrefix.terraform.backend).toEqual({ gcs: { bucket: 'acme-tf-state', prefix: 'a/b' } });
    const withoutPrefix = JSON.parse(stackFor(`${MINIMAL}    state: { bucket: acme-tf-state }\n`));
    expect(withoutPrefix.terraform.backend).toEqual({ gcs: { bucket: 'acme-tf-state', prefix: 'dev' } });
  });

  test('enables the APIs it needs and never disables them on destroy', () => {
    const json = stackFor(MINIMAL);
    for (const service of ['aiplatform.googleapis.com', 'artifactregistry.googleapis.com']) {
      expect(json).toHaveResourceWithProperties(ProjectService, {
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
    expect(models['m@v1'].containerSpec.env).toEqual([
      { name: 'GPU_COUNT', value: '2' },
      { name: 'WORKERS', value: '2' },
    ]);
    expect(models['m@v2'].containerSpec.env).toBeUndefined();
    expect(models['m@v3'].containerSpec.env).toEqual([
      { name: 'GPU_COUNT', value: '4' },
      { name: 'WORKERS', value: '2' },
    ]);
  });

  test('outputs the repository URL and the digest-pinned image URI', () => {
    const json = JSON.parse(stackFor(MINIMAL));
    expect(json.output.repository_url.value).toBe('us-central1-docker.pkg.dev/acme-ml-dev/serving');
    expect(json.output.image_uri.value).toMatch(
      /^us-central1-docker\.pkg\.dev\/acme-ml-dev\/serving\/server@\$\{data\.docker_registry_image\.[A-Za-z0-9_]+\.sha256_digest\}$/,
    );
  });
});
