import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { TerraformStack, Testing } from 'cdktf';
import { VertexEndpoint } from '../../constructs';
import { servingParts } from '../helpers/serving-parts';
import { stacksFromYaml } from '../helpers/synth';

/** A stack in acme-ml-prod / europe-west4 with models whose artifacts are at the given URIs. */
function synthWithArtifacts(...uris: string[]): Record<string, any> {
  const stack = new TerraformStack(Testing.app(), 'test');
  const endpoint = new VertexEndpoint(stack, 'endpoint', { project: 'acme-ml-prod', region: 'europe-west4' });
  const p = servingParts(stack, endpoint);
  for (const [i, uri] of uris.entries()) {
    p.deployment(`d${i}`, p.model(`v${i + 1}`, { artifactUri: uri }), { trafficPercent: i === 0 ? 100 : 0 });
  }
  return JSON.parse(Testing.synth(stack));
}

const bucketReads = (json: Record<string, any>) => Object.values(json.data?.google_storage_bucket ?? {}) as any[];
const bucketGrants = (json: Record<string, any>) =>
  Object.values(json.resource?.google_storage_bucket_iam_member ?? {}) as any[];

describe('model artifact buckets', () => {
  test("the bucket's location is checked against the endpoint's region at plan time", () => {
    // GIVEN a model in europe-west4 with artifacts in gs://acme-models-eu
    const json = synthWithArtifacts('gs://acme-models-eu/yolo26n/v3');
    // THEN the plan reads the bucket and fails when it is elsewhere, saying what to do
    const [read] = bucketReads(json);
    expect(read.name).toBe('acme-models-eu');
    const [check] = read.lifecycle.postcondition;
    expect(check.condition).toBe('${upper(self.location) == "EUROPE-WEST4"}');
    expect(check.error_message).toMatch(
      /^Model artifacts in gs:\/\/acme-models-eu cannot be imported into europe-west4: the bucket's location is \$\{self\.location\}.*Copy the artifacts to a bucket in europe-west4/,
    );
  });

  test('the Vertex AI service agent, which copies the artifacts at upload, may read the bucket', () => {
    // GIVEN
    const json = synthWithArtifacts('gs://acme-models-eu/yolo26n/v3');
    // THEN the agent of the endpoint's project (by number, read at plan time) gets read access on that bucket only
    expect(bucketGrants(json)).toEqual([
      expect.objectContaining({
        bucket: 'acme-models-eu',
        role: 'roles/storage.objectViewer',
        member:
          'serviceAccount:service-${data.google_project.project-acme-ml-prod.number}@gcp-sa-aiplatform.iam.gserviceaccount.com',
      }),
    ]);
    expect(json.data.google_project['project-acme-ml-prod'].project_id).toBe('acme-ml-prod');
  });

  test('models sharing a bucket share one location check and one grant', () => {
    // GIVEN two versions in one bucket
    const json = synthWithArtifacts('gs://acme-models-eu/yolo26n/v3', 'gs://acme-models-eu/yolo26n/v4');
    // THEN
    expect(bucketReads(json)).toHaveLength(1);
    expect(bucketGrants(json)).toHaveLength(1);
  });
});

describe('ServingStack artifact access', () => {
  const [stack] = stacksFromYaml(`environments:
  dev:
    project: acme-ml-dev
    models:
      - { name: yolo, version: v1, artifactUri: gs://acme-models/yolo/v1, machine: { type: g2-standard-8, accelerator: NVIDIA_L4 }, traffic: 100 }
`);
  const json = JSON.parse(Testing.synth(stack));

  test('the serving account gets no grant on the repository or the artifact bucket (Vertex AI pulls and copies with its service agent)', () => {
    // THEN no IAM member names the serving account but its log and metric writers
    const members = [
      ...Object.values(json.resource.google_storage_bucket_iam_member ?? {}),
      ...Object.values(json.resource.google_artifact_registry_repository_iam_member ?? {}),
    ].map((m: any) => m.member);
    expect(members).toEqual([
      expect.stringMatching(/^serviceAccount:service-.*@gcp-sa-aiplatform\.iam\.gserviceaccount\.com$/),
    ]);
  });

  test('the rollout waits for the service agent grant, and the grant for the Vertex AI API', () => {
    // THEN
    const [grantId, grant] = Object.entries(json.resource.google_storage_bucket_iam_member)[0] as [string, any];
    const apply = Object.entries(json.resource.terraform_data).find(([id]) =>
      id.startsWith('rollout_Apply'),
    )![1] as any;
    expect(apply.depends_on).toContain(`google_storage_bucket_iam_member.${grantId}`);
    expect(grant.depends_on).toEqual(
      expect.arrayContaining([expect.stringMatching(/google_project_service\.services_aiplatform/)]),
    );
  });
});

const terraform = (() => {
  try {
    execFileSync('terraform', ['-version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

(terraform ? describe : describe.skip)('the location check under real Terraform', () => {
  if (!terraform) console.warn('terraform is not on PATH: the location check is not evaluated by Terraform');
  /** Evaluates the synthesized postcondition with `self.location` set, in `terraform console` (offline). */
  function passes(location: string): boolean {
    const json = synthWithArtifacts('gs://acme-models-eu/yolo26n/v3');
    const condition = bucketReads(json)[0].lifecycle.postcondition[0].condition as string;
    const expression = condition.slice(2, -1).replace('self.location', JSON.stringify(location));
    const dir = mkdtempSync(path.join(tmpdir(), 'tf-console-'));
    // An empty CLI configuration of its own: the machine's TF_CLI_CONFIG_FILE may name a missing file.
    writeFileSync(path.join(dir, 'terraformrc'), '');
    try {
      const out = execFileSync('terraform', ['console'], {
        cwd: dir,
        input: `${expression}\n`,
        encoding: 'utf8',
        env: {
          ...process.env,
          CHECKPOINT_DISABLE: '1',
          TF_IN_AUTOMATION: '1',
          TF_CLI_CONFIG_FILE: path.join(dir, 'terraformrc'),
        },
      });
      return out.trim() === 'true';
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  test.each([
    ['EUROPE-WEST4', true],
    ['europe-west4', true],
    ['EU', false],
    ['US-CENTRAL1', false],
  ])('a bucket in %s can serve europe-west4: %s', (location, expected) => {
    expect(passes(location)).toBe(expected);
  });
});
