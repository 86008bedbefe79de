import { z } from 'zod';
import { gcsUri, intBetween, matching } from './common';

/** `models[].machine:` the machine each replica runs on. */
export const machineSchema = z.strictObject({
  /** Compute Engine machine type, e.g. `g2-standard-8`. */
  type: matching(/^[a-z][a-z0-9]*-[a-z0-9-]+$/, 'a machine type such as g2-standard-8'),
  /** Accelerator type, e.g. `NVIDIA_L4`; omit for CPU-only serving. */
  accelerator: matching(/^[A-Z][A-Z0-9_]+$/, 'an accelerator type such as NVIDIA_L4').optional(),
  /** Accelerators per replica. */
  count: intBetween(1, 16).default(1),
});

/** `models[].replicas:` the autoscaling bounds. */
export const replicasSchema = z
  .strictObject({
    /** Replicas always running. */
    min: intBetween(1, 1000).default(1),
    /** Upper bound for autoscaling. */
    max: intBetween(1, 1000).optional(),
  })
  .superRefine((r, ctx) => {
    if (r.max !== undefined && r.min > r.max) {
      ctx.addIssue({ code: 'custom', message: `min (${r.min}) is greater than max (${r.max})`, input: r });
    }
  });

/** `models[].autoscaling:` autoscaling targets, in percent (requests: per replica). */
export const autoscalingSchema = z.strictObject({
  /** Target GPU duty cycle, percent. */
  acceleratorDutyCycle: intBetween(1, 100).optional(),
  /** Target CPU utilization, percent. */
  cpuUtilization: intBetween(1, 100).optional(),
  /** Target requests per replica. */
  requestsPerReplica: intBetween(1, 100).optional(),
});

/** One entry of `models:`: a model version and its deployment. */
export const modelSchema = z.strictObject({
  /** Vertex model id. */
  name: matching(/^[a-z_-][a-z0-9_-]{0,62}$/, 'a Vertex model id'),
  /** Version alias; a new version is uploaded under the same model. */
  version: matching(/^[a-z][a-zA-Z0-9-]{0,126}[a-z0-9-]$/, 'a Vertex version alias'),
  /** Folder with the model artifacts; reaches the container as `AIP_STORAGE_URI`. */
  artifactUri: gcsUri,
  /** Machine, accelerator and accelerator count of each replica. */
  machine: machineSchema,
  /** Replica bounds. */
  replicas: replicasSchema.default({ min: 1 }),
  /** Autoscaling targets. */
  autoscaling: autoscalingSchema.optional(),
  /** Percent of the endpoint's traffic this deployment receives. */
  traffic: intBetween(0, 100).default(0),
});

export type ModelConfig = z.output<typeof modelSchema>;
