import { z } from 'zod';
import { alertsSchema } from './alerts';
import { BUCKET_NAME, PROJECT_ID, REGION, labelsSchema, matching, STACKS_YAML_NAMES } from './common';
import { ACCOUNT_ID, IAM_MEMBER } from '../../rules/gcp-names';
import { endpointSchema } from './endpoint';
import { imageSchema } from './image';
import { modelSchema } from './model';
import { endpointAccessProblems, scaleToZeroEndpointProblems, servedVersionsProblems } from '../../rules/vertex';

/** `state:` where Terraform keeps this environment's state. */
const stateSchema = z.strictObject({
  bucket: matching(BUCKET_NAME, 'a Cloud Storage bucket name').describe('GCS bucket for the state (must exist).'),
  prefix: z.string().min(1).optional().describe("Object prefix inside the bucket; the environment's name when absent."),
});

/** One environment: the keys `defaults:` and `environments.<name>:` may hold. */
const environmentObject = z.strictObject({
  project: matching(PROJECT_ID, 'a GCP project id').describe('GCP project id.'),
  region: matching(REGION, 'a GCP region such as us-central1')
    .default('us-central1')
    .describe('GCP region of every regional resource.'),
  labels: labelsSchema.default({}).describe('Labels on every resource that takes them (provider `default_labels`).'),
  production: z
    .boolean()
    .default(false)
    .describe(
      'Marks a production environment: stricter policy checks apply, `cdktf destroy` is refused (see `allowDestroy`) and `endpoint.identity` is required.',
    ),
  allowDestroy: z
    .boolean()
    .default(false)
    .describe(
      'Lets `cdktf destroy` (or a replacement) delete the endpoint and image repository of a `production: true` environment; without it they carry Terraform `prevent_destroy`, so such a plan fails before changing anything.',
    ),
  state: stateSchema.optional().describe('Remote state in GCS; a local state file at the repository root when absent.'),
  image: imageSchema.default(imageSchema.parse({})).describe('Artifact Registry repository and serving image build.'),
  endpoint: endpointSchema.default(endpointSchema.parse({})).describe('The Vertex AI endpoint.'),
  servingAccountId: matching(ACCOUNT_ID, 'a service account id (6 to 30 lowercase letters, digits and hyphens)')
    .default('vertex-serving')
    .describe(
      'Id of the service account the models run as, created by the stack; two environments in one project need different ids.',
    ),
  deployer: matching(
    IAM_MEMBER,
    'an IAM member such as serviceAccount:ci-deploy@acme-ml-staging.iam.gserviceaccount.com',
  )
    .optional()
    .describe(
      'Who applies this environment (`user:`, `serviceAccount:` or `group:` and an email): it gets `roles/iam.serviceAccountUser` on the serving account alone, which deploying a model that runs as it needs. Absent: whoever runs `cdktf deploy`, read at plan time; set it when plans and deploys run as different identities (CI), or every plan by another identity shows the grant moving to it. See Operating it: permissions.',
    ),
  // prefault: the default is an input, so the reference shows it although models transform their values.
  models: z.array(modelSchema).prefault([]).describe('Model versions deployed to the endpoint.'),
  alerts: alertsSchema
    .default(alertsSchema.parse({}))
    .describe(
      'Alert policies and dashboard of the endpoint: every endpoint gets them, with these defaults when absent.',
    ),
});

/** `defaults:` any environment key; every field optional. */
export const defaultsSchema = environmentObject.partial();

/** One environment after `defaults:` are merged in. */
export const environmentSchema = environmentObject.superRefine((env, ctx) => {
  // The same rules the constructs check (rules/vertex.ts).
  for (const p of endpointAccessProblems(env.endpoint.access, env.endpoint.allowedProjects)) {
    // A list on a non-PSC endpoint is reported at this environment's `endpoint:` when it has one,
    // even if the list comes from `defaults:` (an environment that switches an inherited private-psc
    // endpoint to public): that is where the fix, `allowedProjects: []`, goes.
    const missing = env.endpoint.access === 'private-psc';
    ctx.addIssue({
      code: 'custom',
      path: missing ? ['endpoint', 'allowedProjects'] : ['endpoint'],
      message: missing ? p.message : `allowedProjects ${p.message}`,
      input: env.endpoint.allowedProjects,
    });
  }
  if (env.endpoint.allowPublic && env.endpoint.access === 'private-psc') {
    ctx.addIssue({
      code: 'custom',
      path: ['endpoint', 'allowPublic'],
      message:
        'only applies to a public or dedicated endpoint; a private-psc endpoint is not public: remove allowPublic (or set access: public if the endpoint must be public)',
      input: true,
    });
  }
  env.models.forEach((m, i) => {
    if (m.replicas.min !== 0) return;
    // Endpoint-wide Scale To Zero rules (rules/vertex.ts); the entry's own are checked with it.
    for (const p of scaleToZeroEndpointProblems(env.endpoint.access, env.models.length, STACKS_YAML_NAMES)) {
      ctx.addIssue({ code: 'custom', path: ['models', i, 'replicas', 'min'], message: p.message, input: 0 });
    }
  });
  for (const p of servedVersionsProblems(
    env.models.map((m) => ({ key: `${m.name}@${m.version}`, traffic: m.traffic })),
  )) {
    ctx.addIssue({
      code: 'custom',
      path: p.index === undefined ? ['models'] : ['models', p.index, p.field],
      message: p.message,
      input: env.models,
    });
  }
});

export type EnvironmentConfig = z.output<typeof environmentSchema>;

/** Environment names become stack names: `cdktf deploy <name>`. */
export const ENVIRONMENT_NAME = /^[a-z][a-z0-9-]{0,29}$/;

/** The whole `stacks.yaml`. */
export const stacksFileSchema = z.strictObject({
  /** Merged into every environment; an environment's own keys win (objects merge, lists replace). */
  defaults: z.record(z.string(), z.unknown()).optional(),
  /** One stack per key. */
  environments: z.record(z.string(), z.unknown()),
});
