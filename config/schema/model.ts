import { z } from 'zod';
import {
  AUTOSCALING_TARGET,
  ENV_VAR_NAME,
  MAX_DEPLOYMENT_TIMEOUT_SECONDS,
  autoscalingProblems,
  MODEL_ID,
  RESERVED_VERSION_ALIASES,
  VERSION_ALIAS,
  machineProblems,
} from '../../constructs/private/vertex-rules';
import { gcsUri, intBetween, matching } from './common';

/** `models[].machine:` the machine each replica runs on. */
export const machineSchema = z
  .strictObject({
    /** Compute Engine machine type, e.g. `g2-standard-8`. */
    type: matching(/^[a-z][a-z0-9]*-[a-z0-9-]+$/, 'a machine type such as g2-standard-8'),
    /** Accelerator type, e.g. `NVIDIA_L4`; omit for CPU-only serving. */
    accelerator: matching(/^[A-Z][A-Z0-9_]+$/, 'an accelerator type such as NVIDIA_L4').optional(),
    /** Accelerators per replica; defaults to the machine type's own count (1 on N1). */
    count: intBetween(1, 16).optional(),
  })
  .superRefine((m, ctx) => {
    // The same table the VertexDeployment construct checks (constructs/private/vertex-rules.ts).
    for (const message of machineProblems(m)) ctx.addIssue({ code: 'custom', message, input: m });
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
  // One key per metric (AUTOSCALING_METRICS in vertex-rules.ts), so at most one target per metric.
  /** Target GPU duty cycle, percent. */
  acceleratorDutyCycle: intBetween(AUTOSCALING_TARGET.min, AUTOSCALING_TARGET.max).optional(),
  /** Target CPU utilization, percent. */
  cpuUtilization: intBetween(AUTOSCALING_TARGET.min, AUTOSCALING_TARGET.max).optional(),
  /** Target requests per replica. */
  requestsPerReplica: intBetween(AUTOSCALING_TARGET.min, AUTOSCALING_TARGET.max).optional(),
});

/** One entry of `models:`: a model version and its deployment. */
export const modelSchema = z
  .strictObject({
  /** Vertex model id. */
  name: matching(MODEL_ID, 'a Vertex model id'),
  /** Version alias; a new version is uploaded under the same model. */
  version: matching(VERSION_ALIAS, 'a Vertex version alias').refine((v) => !RESERVED_VERSION_ALIASES.includes(v), {
    error: (iss) => `${JSON.stringify(iss.input)} is reserved by Vertex (it always names one version of every model); pick another alias`,
  }),
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
  /** Run replicas on Spot VMs. */
  spot: z.boolean().default(false),
  /** Container stdout/stderr to Cloud Logging. */
  containerLogging: z.boolean().default(true),
  /** One log entry per prediction request. */
  accessLogging: z.boolean().default(false),
  /** `/dev/shm` size of the container, MB. */
  sharedMemorySizeMb: intBetween(1, 1_048_576).optional(),
  /** Extra environment variables of the container (not `AIP_*`). */
  env: z
    .record(z.string(), z.string())
    .superRefine((env, ctx) => {
      for (const name of Object.keys(env)) {
        if (!ENV_VAR_NAME.test(name)) {
          ctx.addIssue({ code: 'custom', path: [name], message: `${JSON.stringify(name)} is not an environment variable name Vertex allows (letters, digits, _; not starting with AIP_, which Vertex sets)`, input: name });
        }
      }
    })
    .optional(),
  /** How long a new replica may take to become healthy: `90s`, `30m`, `2h`; at most 2 h. */
  deploymentTimeout: matching(/^\d+[smh]$/, 'a duration such as 30m').optional().refine((d) => d === undefined || durationSeconds(d) <= MAX_DEPLOYMENT_TIMEOUT_SECONDS, {
    error: (iss) => `${JSON.stringify(iss.input)} is longer than Vertex's limit of 2h`,
  }),
  })
  .superRefine((m, ctx) => {
    // The same rule the VertexDeployment construct checks (constructs/private/vertex-rules.ts).
    for (const { key, message } of autoscalingProblems(m.autoscaling ?? {}, m.machine.accelerator !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['autoscaling', key], message, input: m.autoscaling });
    }
  });

/** `90s` / `30m` / `2h` in seconds. */
export function durationSeconds(d: string): number {
  const n = Number(d.slice(0, -1));
  return d.endsWith('h') ? n * 3600 : d.endsWith('m') ? n * 60 : n;
}

export type ModelConfig = z.output<typeof modelSchema>;
