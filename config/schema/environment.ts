import { z } from 'zod';
import { alertsSchema } from './alerts';
import { BUCKET_NAME, PROJECT_ID, REGION, labelsSchema, matching } from './common';
import { endpointSchema } from './endpoint';
import { imageSchema } from './image';
import { modelSchema } from './model';

/** `state:` where Terraform keeps this environment's state. */
export const stateSchema = z.strictObject({
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
  production: z.boolean().default(false).describe('Marks a production environment: stricter policy checks apply.'),
  state: stateSchema.optional().describe('Remote state in GCS; a local state file at the repository root when absent.'),
  image: imageSchema.default(imageSchema.parse({})).describe('Artifact Registry repository and serving image build.'),
  endpoint: endpointSchema.default(endpointSchema.parse({})).describe('The Vertex AI endpoint.'),
  models: z.array(modelSchema).default([]).describe('Model versions deployed to the endpoint.'),
  alerts: alertsSchema
    .default(alertsSchema.parse({}))
    .describe('Alert policies and dashboard of the endpoint: every endpoint gets them, with these defaults when absent.'),
});

/** `defaults:` any environment key; every field optional. */
export const defaultsSchema = environmentObject.partial();

/** One environment after `defaults:` are merged in. */
export const environmentSchema = environmentObject.superRefine((env, ctx) => {
    const allowed = env.endpoint.allowedProjects ?? [];
    if (env.endpoint.access === 'private-psc' && allowed.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['endpoint', 'allowedProjects'], message: 'a private-psc endpoint needs at least one project allowed to connect (allowedProjects: [consumer-project])', input: env.endpoint.allowedProjects });
    }
    if (env.endpoint.access !== 'private-psc' && allowed.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['endpoint', 'allowedProjects'], message: `only applies to access: private-psc, not ${env.endpoint.access}`, input: allowed });
    }
    const seen = new Map<string, number>();
    env.models.forEach((m, i) => {
      const key = `${m.name}@${m.version}`;
      const first = seen.get(key);
      if (first !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['models', i, 'version'], message: `${key} is already declared at models[${first}]; each model version once per endpoint`, input: m.version });
      }
      seen.set(key, i);
    });
    if (env.models.length > 0) {
      const total = env.models.reduce((sum, m) => sum + m.traffic, 0);
      if (total !== 100) {
        ctx.addIssue({
          code: 'custom',
          path: ['models'],
          message: `traffic must add up to 100 across the endpoint's models, got ${total} (${env.models
            .map((m) => `${m.name}@${m.version}: ${m.traffic}`)
            .join(', ')})`,
          input: env.models,
        });
      }
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
