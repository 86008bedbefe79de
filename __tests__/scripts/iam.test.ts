import { Testing } from 'cdktf';
import {
  IAM_NEEDS,
  type Need,
  type SynthesizedPlan,
  blocksOf,
  formatReport,
  permissionsOf,
} from '../../scripts/lib/iam-needs';
import { synthesizedPlan } from '../../scripts/iam';
import { withModel } from '../helpers/config';
import { exampleStacks, stacksFromYaml } from '../helpers/synth';

const DIGEST = `sha256:${'b'.repeat(64)}`;
const FOREIGN_IMAGE = `us-central1-docker.pkg.dev/acme-ml-staging/serving/server@${DIGEST}`;

/** The plan of the first stack of `yaml`. */
function planOf(yaml: string): SynthesizedPlan {
  return JSON.parse(Testing.synth(stacksFromYaml(yaml)[0]));
}

/** Stacks using what the example leaves out: a promoted image, CMEK, request logging, a local state, no deployer. */
const FEATURE_STACKS: Record<string, string> = {
  'promoted image from another project': withModel('').replace(
    'project: acme-ml-dev',
    `project: acme-ml-dev\n    image: { uri: "${FOREIGN_IMAGE}" }`,
  ),
  'CMEK and request logging': withModel('').replace(
    'project: acme-ml-dev',
    'project: acme-ml-dev\n    endpoint: { access: dedicated, kmsKeyName: projects/acme-kms/locations/us-central1/keyRings/k/cryptoKeys/c, requestLogging: { bigqueryUri: bq://acme-logs.serving } }',
  ),
  'a canary on a pinned image': withModel(`, image: "${FOREIGN_IMAGE}"`),
};

const roles = (needs: readonly Need[]) => needs.map((n) => `${n.role} on ${n.on}`);

describe('npm run iam: the roles each identity needs, from the plan', () => {
  test.each([
    ...Object.keys(exampleStacks()).map((env): [string, () => SynthesizedPlan] => [
      `example ${env}`,
      () => JSON.parse(exampleStacks()[env]),
    ]),
    ...Object.entries(FEATURE_STACKS).map(([what, yaml]): [string, () => SynthesizedPlan] => [
      what,
      () => planOf(yaml),
    ]),
  ])('every resource and data source type of the %s stack is in the table', (_what, plan) => {
    // GIVEN the stack's plan
    const types = blocksOf(plan()).map(([k]) => k);
    // THEN each type has an entry (a new resource type fails here until its permissions are written down)
    expect(types.filter((t) => !(t in IAM_NEEDS))).toEqual([]);
  });

  test('a plan holding a type the table lacks is refused, naming it', () => {
    // GIVEN a plan with a network the table knows nothing of
    const plan: SynthesizedPlan = { resource: { google_compute_network: { vpc: { name: 'vpc' } } } };
    // WHEN / THEN
    expect(() => permissionsOf(plan)).toThrow(/no permissions known for google_compute_network: add them to IAM_NEEDS/);
  });

  test('a terraform_data that is neither the push nor the rollout is refused', () => {
    // GIVEN
    const plan: SynthesizedPlan = {
      resource: { terraform_data: { x: { provisioner: [{ 'local-exec': { command: 'make' } }] } } },
    };
    // WHEN / THEN
    expect(() => permissionsOf(plan)).toThrow(/no permissions known for terraform_data:unknown/);
  });

  test('the CI plan identity gets read-only roles only, and the state bucket', () => {
    // GIVEN the example staging stack
    const report = permissionsOf(JSON.parse(exampleStacks().staging));
    // THEN
    const plan = roles(report.identities.ciPlan);
    expect(plan.filter((r) => /admin|Admin|Editor|writer|aiplatform\.user|setIamPolicy/.test(r))).toEqual([]);
    expect(plan).toContain('roles/storage.objectUser on state bucket acme-terraform-state');
    expect(plan).toContain('custom role: storage.buckets.get, storage.buckets.getIamPolicy on bucket acme-models');
  });

  test('the deploying identities get what applying needs, and no project-wide serviceAccountUser', () => {
    // GIVEN
    const report = permissionsOf(JSON.parse(exampleStacks().staging));
    // THEN
    for (const id of ['person', 'ciDeploy'] as const) {
      const deploy = roles(report.identities[id]);
      expect(deploy).toEqual(
        expect.arrayContaining([
          'roles/aiplatform.user on project acme-ml-staging',
          'roles/artifactregistry.admin on project acme-ml-staging',
          'roles/iam.serviceAccountAdmin on project acme-ml-staging',
          'roles/serviceusage.serviceUsageAdmin on project acme-ml-staging',
          'roles/monitoring.alertPolicyEditor on project acme-ml-staging',
        ]),
      );
      expect(deploy.filter((r) => r.startsWith('roles/iam.serviceAccountUser'))).toEqual([]);
    }
  });

  test('actAs on the serving account is listed as granted by the stack, to the deployer stacks.yaml names', () => {
    // GIVEN
    const report = permissionsOf(JSON.parse(exampleStacks().staging));
    // THEN
    expect(report.grantedByStack).toContainEqual(
      expect.objectContaining({
        role: 'roles/iam.serviceAccountUser',
        why: expect.stringContaining('serviceAccount:ci-deploy@acme-ml-staging.iam.gserviceaccount.com'),
      }),
    );
  });

  test("a promoted image in another project: the deployer may grant on that repository, the stack grants the service agent's read", () => {
    // GIVEN
    const report = permissionsOf(planOf(FEATURE_STACKS['promoted image from another project']));
    // THEN
    expect(roles(report.identities.ciDeploy)).toContain(
      'roles/artifactregistry.admin on repository acme-ml-staging/us-central1/serving',
    );
    expect(roles(report.grantedByStack)).toContain(
      'roles/artifactregistry.reader on repository acme-ml-staging/us-central1/serving',
    );
    expect(roles(report.identities.ciDeploy).filter((r) => r.includes('writer'))).toEqual([]);
  });

  test('CMEK and BigQuery request logging ask the Vertex AI service agent for the key and the dataset', () => {
    // GIVEN
    const report = permissionsOf(planOf(FEATURE_STACKS['CMEK and request logging']));
    // THEN
    expect(roles(report.identities.serviceAgent)).toEqual([
      'roles/bigquery.dataEditor on bq://acme-logs.serving',
      'roles/cloudkms.cryptoKeyEncrypterDecrypter on key projects/acme-kms/locations/us-central1/keyRings/k/cryptoKeys/c',
    ]);
  });

  test('the printed report gives CI deploy in full and the person only what differs: the quota project', () => {
    // GIVEN
    const report = permissionsOf(JSON.parse(exampleStacks().staging));
    // WHEN
    const text = formatReport('staging', report, []);
    // THEN
    expect(text).toMatch(
      /The CI deploy identity \(cdktf deploy staging --auto-approve, then npm run smoke -- staging\):\n {2}custom role: storage\.buckets\.get/,
    );
    expect(text).toMatch(
      /The person deploying \(cdktf deploy staging\): the same, and:\n {2}roles\/serviceusage\.serviceUsageConsumer on the quota project[^\n]*\n\n/,
    );
  });

  test('the script synthesizes the environment afresh from stacks.yaml', () => {
    // GIVEN / WHEN
    const plan = synthesizedPlan('staging');
    // THEN it is the staging stack
    expect(plan.provider?.google?.[0]?.project).toBe('acme-ml-staging');
  });

  test('an unknown environment is refused, naming the ones there are', () => {
    expect(() => synthesizedPlan('qa')).toThrow(/no environment "qa"; it has staging, prod/);
  });
});
