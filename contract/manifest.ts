import { createHash } from 'node:crypto';
import { z } from 'zod';
import { DEPLOYED_MODEL_ID, ENDPOINT_ID, RESERVATION_AFFINITIES, SCALE_TO_ZERO_API_VERSION } from '../rules/vertex';

/**
 * What the deployer is asked to make true: the model versions to upload, the deployed models an
 * endpoint must carry and its traffic split. `VertexRollout` writes it into the plan (so `cdktf
 * diff` shows every change); Terraform hands it to the deployer as JSON in `DEPLOYER_MANIFEST`.
 * Field names inside `containerSpec`, `machineSpec` and `autoscalingMetricSpecs` are the Vertex
 * REST names, sent as they are.
 */

/** The endpoint the deployer works on. */
export const endpointRefSchema = z.object({
  project: z.string().min(1),
  region: z.string().min(1),
  /** Numeric endpoint id. */
  endpointId: z.string().regex(ENDPOINT_ID),
});

/** One model version: uploaded under `modelId` and found again by its version alias. */
export const modelVersionSchema = z.object({
  modelId: z.string().min(1),
  versionAlias: z.string().min(1),
  /** Hash of everything uploaded; stored in the version description, so a changed spec is re-uploaded. */
  fingerprint: z.string().regex(/^[0-9a-f]{16}$/),
  displayName: z.string().min(1),
  description: z.string().default(''),
  artifactUri: z.string().optional(),
  labels: z.record(z.string(), z.string()).default({}),
  containerSpec: z.record(z.string(), z.unknown()),
});

/** A REST Duration in whole seconds, e.g. `3600s`. */
const seconds = z.string().regex(/^\d+s$/);

/** One deployed model: a model version on dedicated machines. */
export const deploymentSchema = z
  .object({
    /** Key of `models` this deploys (`<modelId>@<alias>`). */
    model: z.string().min(1),
    displayName: z.string().min(1),
    serviceAccount: z.string().min(1),
    machineSpec: z.object({
      machineType: z.string(),
      acceleratorType: z.string().optional(),
      acceleratorCount: z.number().int().optional(),
      /** Compute Engine reservation the replicas draw on (v1 `MachineSpec.reservationAffinity`). */
      reservationAffinity: z
        .object({
          reservationAffinityType: z.enum(Object.values(RESERVATION_AFFINITIES)),
          key: z.string().optional(),
          values: z.array(z.string()).optional(),
        })
        .optional(),
    }),
    /** 0 only with `scaleToZeroSpec` (Vertex's Scale To Zero). */
    minReplicaCount: z.number().int().min(0),
    maxReplicaCount: z.number().int().min(1),
    /** Scale To Zero periods (v1beta1 `DedicatedResources.scaleToZeroSpec`); present exactly when `minReplicaCount` is 0. */
    scaleToZeroSpec: z.object({ minScaleupPeriod: seconds, idleScaledownPeriod: seconds }).optional(),
    autoscalingMetricSpecs: z.array(z.object({ metricName: z.string(), target: z.number().int() })).default([]),
    spot: z.boolean().default(false),
    disableContainerLogging: z.boolean().default(false),
    enableAccessLogging: z.boolean().default(false),
    /** Percent of the endpoint's traffic. */
    trafficPercent: z.number().int().min(0).max(100),
  })
  .refine((d) => (d.minReplicaCount === 0) === (d.scaleToZeroSpec !== undefined), {
    error: 'minReplicaCount 0 and scaleToZeroSpec go together (Scale To Zero)',
  });

/** The whole manifest of `deployer apply`. */
export const manifestSchema = z.object({
  endpoint: endpointRefSchema,
  /** Keyed by `<modelId>@<alias>`. */
  models: z.record(z.string(), modelVersionSchema).default({}),
  /** Keyed by DeployedModel id. */
  deployments: z.record(z.string().regex(DEPLOYED_MODEL_ID), deploymentSchema).default({}),
  /** Upper bound of each long-running operation (upload, deploy, mutate, undeploy), seconds. */
  operationTimeoutSeconds: z.number().int().positive().default(3600),
});

/** The Vertex REST API version a deployment's requests go to. */
export type ApiVersion = 'v1' | typeof SCALE_TO_ZERO_API_VERSION;

/**
 * `v1beta1` for a deployment that scales to zero (only v1beta1 takes `minReplicaCount: 0` and
 * `scaleToZeroSpec`), `v1` for every other one.
 */
export function apiVersionOf(d: { readonly scaleToZeroSpec?: unknown }): ApiVersion {
  return d.scaleToZeroSpec === undefined ? 'v1' : SCALE_TO_ZERO_API_VERSION;
}

export type EndpointRef = z.output<typeof endpointRefSchema>;
export type ModelVersionSpec = z.output<typeof modelVersionSchema>;
export type DeploymentSpec = z.output<typeof deploymentSchema>;
export type Manifest = z.output<typeof manifestSchema>;
/** The manifest as the construct writes it (defaults may be left out). */
export type ManifestInput = z.input<typeof manifestSchema>;

/** Labels the deployer keeps on the endpoint so a plan can tell a hand-made change from its own. */
export const STATE_LABEL = 'cdktf-rollout-state';
/** Fingerprint of the last hand-made change the deployer repaired (keeps the plan stable after it). */
export const DRIFT_LABEL = 'cdktf-rollout-drift';

/** The first 16 hex characters of the SHA-256 of `text`: the short fingerprints in plans, labels and descriptions. */
export function shortSha256(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/** What a model version serves, as the fingerprint sees it; labels are left out (they change nothing served). */
export interface ServedModel {
  readonly displayName: string;
  readonly description: string;
  readonly artifactUri?: string;
  readonly containerSpec: Record<string, unknown>;
}

/**
 * The fingerprint of what a model version serves. The construct computes it at synth time with
 * the image's content tag in the container spec, the deployer at apply time with its digest: one
 * function, so both always hash the same fields in the same order.
 */
export function servedFingerprint(m: ServedModel): string {
  return shortSha256(
    JSON.stringify({
      displayName: m.displayName,
      description: m.description,
      artifactUri: m.artifactUri,
      containerSpec: m.containerSpec,
    }),
  );
}
