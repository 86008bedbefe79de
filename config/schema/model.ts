import { z } from 'zod';
import {
  AUTOSCALING_TARGETS,
  type AutoscalingMetricKey,
  ENV_VAR_NAME,
  MAX_DEPLOYMENT_TIMEOUT_SECONDS,
  autoscalingProblems,
  MODEL_ID,
  PROBE_LIMITS,
  type ProbeTimingField,
  REPLICAS,
  RESERVATION_AFFINITIES,
  RESERVATION_NAME,
  RESERVED_VERSION_ALIASES,
  SCALE_TO_ZERO_MINUTES,
  SHARED_MEMORY_MB,
  VERSION_ALIAS,
  machineProblems,
  reservationProblems,
  scaleToZeroProblems,
  DEFAULT_TENSORRT_PRECISION,
  TENSORRT_CACHE_FOLDER,
  TENSORRT_PRECISIONS,
  tensorrtEnvProblems,
} from '../../rules/vertex';
import { SERVING_PROFILES } from '../../rules/serving-profile';
import { gcsUri, intBetween, matching, shown, text, STACKS_YAML_NAMES } from './common';
import { pinnedImageUri } from './image';

/** `models[].machine:` the machine each replica runs on. */
const machineSchema = z
  .strictObject({
    type: matching(/^[a-z][a-z0-9]*-[a-z0-9-]+$/, 'a machine type such as g2-standard-8').describe(
      'Compute Engine machine type, e.g. `g2-standard-8`; checked against the accelerator (see the rollout section).',
    ),
    accelerator: matching(/^[A-Z][A-Z0-9_]+$/, 'an accelerator type such as NVIDIA_L4')
      .optional()
      .describe('Accelerator type, e.g. `NVIDIA_L4`; omit for CPU-only serving.'),
    count: intBetween(1, 16).optional().describe("Accelerators per replica; defaults to the machine type's own count."),
    reservation: z
      .strictObject({
        affinity: z
          .enum(Object.keys(RESERVATION_AFFINITIES) as [keyof typeof RESERVATION_AFFINITIES])
          .describe(
            '`any`: any matching Compute Engine reservation, else on-demand; `specific`: only the reservation `name`; `none`: on-demand only.',
          ),
        name: matching(RESERVATION_NAME, 'a reservation name')
          .optional()
          .describe(
            'Reservation name (`my-reservation`, or `projects/OWNER/reservations/NAME` when shared from another project); only with `specific`.',
          ),
      })
      .optional()
      .describe(
        'Compute Engine reservation the replicas draw on (GPU machines only; not `specific` together with `spot`). Changing it deploys a new DeployedModel. Absent: the deploy request names no reservation affinity.',
      ),
  })
  .superRefine((m, ctx) => {
    // The same table the VertexDeployment construct checks (rules/vertex.ts).
    for (const message of machineProblems(m)) ctx.addIssue({ code: 'custom', message, input: m });
  });

/** `models[].replicas:` the autoscaling bounds. */
const replicasSchema = z
  .strictObject({
    // 0 only with scaleToZero (Vertex's Scale To Zero, rules/vertex.ts), checked with the whole entry.
    min: intBetween(0, REPLICAS.max)
      .default(1)
      .describe('Replicas always running; 0 scales to zero when idle (needs `scaleToZero`).'),
    max: intBetween(REPLICAS.min, REPLICAS.max).optional().describe('Upper bound for autoscaling; `min` when absent.'),
  })
  .superRefine((r, ctx) => {
    if (r.max !== undefined && r.min > r.max) {
      ctx.addIssue({ code: 'custom', message: `min (${r.min}) is greater than max (${r.max})`, input: r });
    }
  });

const minutes = (what: string) =>
  intBetween(SCALE_TO_ZERO_MINUTES.min, SCALE_TO_ZERO_MINUTES.max)
    .default(SCALE_TO_ZERO_MINUTES.default)
    .describe(`${what}; ${SCALE_TO_ZERO_MINUTES.min} to ${SCALE_TO_ZERO_MINUTES.max} (8 h).`);

const target = (key: AutoscalingMetricKey, what: string) =>
  intBetween(AUTOSCALING_TARGETS[key].min, AUTOSCALING_TARGETS[key].max).optional().describe(what);

/** `models[].autoscaling:` autoscaling targets; one key per metric, so at most one target per metric. */
const autoscalingSchema = z.strictObject({
  acceleratorDutyCycle: target('acceleratorDutyCycle', 'Target GPU duty cycle, percent, 1 to 100 (GPU machines only).'),
  cpuUtilization: target('cpuUtilization', 'Target CPU utilization, percent, 1 to 100.'),
  requestsPerReplica: target('requestsPerReplica', 'Target requests per minute per replica, 1 to 1000000.'),
});

const probeTiming = (field: ProbeTimingField, what: string) =>
  intBetween(PROBE_LIMITS[field].min, PROBE_LIMITS[field].max)
    .optional()
    .describe(`${what}; Vertex's default ${PROBE_LIMITS[field].default}.`);

/** One probe: `path` or `exec`, and its timing (the limits VertexModel checks too, rules/vertex.ts). */
const probeSchema = z
  .strictObject({
    path: matching(/^\/\S*$/, 'an HTTP path starting with /')
      .optional()
      .describe('HTTP GET this path on the serving port (8080); healthy on a 2xx or 3xx answer.'),
    exec: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('Run this command (exec form, e.g. `[cat, /tmp/ready]`) in the container; healthy when it exits 0.'),
    periodSeconds: probeTiming('periodSeconds', 'Seconds between probes'),
    timeoutSeconds: probeTiming('timeoutSeconds', 'Seconds before one probe times out'),
    failureThreshold: probeTiming('failureThreshold', 'Consecutive failures before the probe fails'),
    initialDelaySeconds: probeTiming(
      'initialDelaySeconds',
      'Seconds after the container starts before the first probe',
    ),
  })
  .superRefine((p, ctx) => {
    if ((p.path === undefined) === (p.exec === undefined)) {
      ctx.addIssue({
        code: 'custom',
        message: `needs exactly one of path (an HTTP GET such as path: /health) or exec (a command such as exec: [cat, /tmp/ready]), got ${p.path === undefined ? 'neither' : 'both'}`,
        input: p,
      });
    }
  });

/** `models[].probes:` the container's probes. */
const probesSchema = z.strictObject({
  startup: probeSchema
    .optional()
    .describe(
      'Decides when a starting container is up; until it passes, the others do not run. GPU models get one by default (see Models, endpoints and rollouts).',
    ),
  health: probeSchema
    .optional()
    .describe('Readiness: a failing replica gets no traffic. Default: GET the health route.'),
  liveness: probeSchema.optional().describe('A failing container is restarted. Default: none.'),
});

/** One entry of `models:`: a model version and its deployment. */
export const modelSchema = z
  .strictObject({
    name: matching(MODEL_ID, 'a Vertex model id').describe('Vertex model id; versions are uploaded under it.'),
    version: matching(VERSION_ALIAS, 'a Vertex version alias')
      .refine((v) => !RESERVED_VERSION_ALIASES.includes(v), {
        error: (iss) =>
          `${JSON.stringify(iss.input)} is reserved by Vertex (it always names one version of every model); pick another alias`,
      })
      .describe('Version alias; a new version is uploaded under the same model.'),
    artifactUri: gcsUri
      // Vertex copies a folder; a file's URI leaves the server an empty AIP_STORAGE_URI.
      .refine((uri) => !/\.onnx$/i.test(uri), {
        error: (issue) =>
          `${shown(issue.input)} names a file; artifactUri is the folder holding it: ${shown(String(issue.input).replace(/\/[^/]*$/, ''))} (docs/models.md)`,
      })
      .describe('Folder with the model artifacts; reaches the container as `AIP_STORAGE_URI`.'),
    image: pinnedImageUri
      .optional()
      .describe(
        "Run this version on this image, pinned by digest (`LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE@sha256:<digest>`), instead of the environment's: a new server can canary on one version while the others stay on the previous digest. Absent: the environment's image (`image.uri`, or its own build). Tags are refused.",
      ),
    machine: machineSchema.describe('Machine, accelerator and accelerator count of each replica.'),
    replicas: replicasSchema.default({ min: 1 }).describe('Replica bounds.'),
    autoscaling: autoscalingSchema.optional().describe('Autoscaling targets.'),
    scaleToZero: z
      .strictObject({
        idleMinutes: minutes('Minutes without traffic before the replicas are removed (`idleScaledownPeriod`)'),
        minUpMinutes: minutes(
          'Minutes a started deployment (deployed or woken up) stays up before its traffic is looked at (`minScaleupPeriod`)',
        ),
      })
      .optional()
      .describe(
        "Vertex's Scale To Zero (Preview), with `replicas.min: 0`: no replica and no bill while idle; a request to a scaled-down model gets HTTP 429 and wakes it (see Cost and speed). Not on a `public` endpoint, and only for a model alone on its endpoint.",
      ),
    traffic: intBetween(0, 100)
      .default(0)
      .describe("Percent of the endpoint's traffic; all models' shares add up to 100."),
    spot: z.boolean().default(false).describe('Run replicas on Spot VMs.'),
    containerLogging: z.boolean().default(true).describe('Container stdout/stderr to Cloud Logging.'),
    accessLogging: z.boolean().default(false).describe('One log entry per prediction request.'),
    allowCpuFallback: z
      .boolean()
      .default(false)
      .describe(
        'GPU machines only: let a replica whose CUDA and TensorRT fail to load serve on its CPU (healthy, many times slower). By default it fails to start (`EXECUTION_PROVIDERS=tensorrt,cuda`), and so does the rollout.',
      ),
    profile: z
      .enum(SERVING_PROFILES)
      .optional()
      .describe(
        "CPU machines only: `latency` runs each image on all vCPUs (one inference worker); `throughput` runs one worker per vCPU (up to 16, sharing the vCPUs), more images per second at a longer time per image. Sets `SERVING_PROFILE`, `WORKERS` and `INTRA_OP_THREADS` from the machine type's vCPUs (`env` wins). Absent: the server's default, `latency`.",
      ),
    tensorrt: z
      .strictObject({
        precision: z
          .enum(TENSORRT_PRECISIONS)
          .default(DEFAULT_TENSORRT_PRECISION)
          .describe(
            '`fp16` (default): the same detections as `fp32`, about 2 to 3 times faster on T4, L4 and A100; `fp32`: full precision; `int8`: needs a QDQ-quantized model (the replica refuses to start otherwise).',
          ),
        engineCache: z
          .boolean()
          .default(false)
          .describe(
            `Share the built engines in \`<artifactUri>/${TENSORRT_CACHE_FOLDER}/\`: the first replica uploads them, later replicas and restarts download them instead of building for minutes. Grants the serving account object create and read on that prefix only (the bucket needs uniform bucket-level access).`,
          ),
      })
      .optional()
      .describe(
        "TensorRT engines of a GPU model (the serving image's `TENSORRT_PRECISION` and `TENSORRT_CACHE_URI`; its README, TensorRT, says what onnxruntime-node 1.30 honours). Absent: the container gets neither variable (the server builds FP16, its default) and no shared cache. Changing it uploads a new model version.",
      ),
    sharedMemorySizeMb: intBetween(SHARED_MEMORY_MB.min, SHARED_MEMORY_MB.max)
      .optional()
      .describe('`/dev/shm` size of the container, MB.'),
    env: z
      .record(z.string(), text('a string'))
      .superRefine((env, ctx) => {
        for (const name of Object.keys(env)) {
          if (!ENV_VAR_NAME.test(name)) {
            ctx.addIssue({
              code: 'custom',
              path: [name],
              message: `${JSON.stringify(name)} is not an environment variable name Vertex allows (letters, digits, _; not starting with AIP_, which Vertex sets)`,
              input: name,
            });
          }
        }
      })
      .optional()
      .describe('Extra environment variables of the container (not `AIP_*`).'),
    probes: probesSchema
      .optional()
      .describe(
        "Startup, health (readiness) and liveness probes of the container. A GPU model without a startup probe gets GET the health route every 10 s for up to 30 minutes (180 failures): the TensorRT engines are built on the container's first start, and Vertex's default (3 failures) would restart it mid-build. A replica that loads cached engines (`tensorrt.engineCache`) passes it as soon as it is up.",
      ),
    deploymentTimeout: text('a duration such as 30m', (n) => `"${String(n)}m" or "${String(n)}s"`)
      .superRefine((d, ctx) => {
        const seconds = durationSeconds(d);
        const problem =
          seconds === undefined
            ? `${shown(d)} is not a duration: write a number with s, m or h, such as 90s, 30m, 1h30m or 2h`
            : seconds < 1
              ? `${shown(d)} is not a timeout: give at least 1s`
              : seconds > MAX_DEPLOYMENT_TIMEOUT_SECONDS
                ? `${shown(d)} is longer than Vertex's limit of 2h (7200s)`
                : undefined;
        if (problem) ctx.addIssue({ code: 'custom', message: problem, input: d });
      })
      .describe(
        "How long a new replica may take to become healthy: `90s`, `30m`, `1h30m`, `2h`; from 1s to 2 h. GPU models default to 40m (the startup probe's 30 minutes of engine build plus the image pull); CPU models to Vertex's default.",
      )
      // The stack gets seconds, the unit the constructs take: nothing downstream parses durations.
      .transform((d) => durationSeconds(d) ?? 0)
      .optional(),
  })
  .superRefine((m, ctx) => {
    // The same rules the VertexDeployment construct checks (rules/vertex.ts); the endpoint-wide
    // ones (access, models on the endpoint) are checked with the environment.
    for (const p of scaleToZeroProblems(
      {
        minReplicas: m.replicas.min,
        maxReplicas: m.replicas.max ?? m.replicas.min,
        scaleToZero: m.scaleToZero !== undefined,
      },
      STACKS_YAML_NAMES,
    )) {
      ctx.addIssue({ code: 'custom', path: [p.field], message: p.message, input: m[p.field as keyof typeof m] });
    }
    if (m.machine.reservation) {
      for (const p of reservationProblems(
        {
          ...m.machine.reservation,
          spot: m.spot,
          hasAccelerator: m.machine.accelerator !== undefined,
        },
        STACKS_YAML_NAMES,
      )) {
        ctx.addIssue({
          code: 'custom',
          path: ['machine', 'reservation', p.field],
          message: p.message,
          input: m.machine.reservation,
        });
      }
    }
    // An invalid machine (a GPU type without its accelerator, a misspelt key) is reported at
    // machine: judging the targets against it would only add a misleading second message.
    if (machineProblems(m.machine).length > 0) return;
    if (m.allowCpuFallback && m.machine.accelerator === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['allowCpuFallback'],
        message:
          'applies only to GPU machines (machine.accelerator): a CPU machine always serves on its CPU; remove it',
        input: m.allowCpuFallback,
      });
    }
    if (m.profile !== undefined && m.machine.accelerator !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['profile'],
        message:
          'applies only to CPU machines: a GPU machine runs one inference worker per GPU whatever the profile; remove profile',
        input: m.profile,
      });
    }
    if (m.tensorrt && m.machine.accelerator === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['tensorrt'],
        message: 'applies only to GPU machines (machine.accelerator): TensorRT runs on NVIDIA GPUs; remove it',
        input: m.tensorrt,
      });
    }
    const providers = m.env?.EXECUTION_PROVIDERS;
    if (m.tensorrt && providers !== undefined && !/(^|,)\s*tensorrt\s*(,|$)/i.test(providers)) {
      ctx.addIssue({
        code: 'custom',
        path: ['tensorrt'],
        message: `has no effect: env.EXECUTION_PROVIDERS (${JSON.stringify(providers)}) does not list tensorrt; add it or remove tensorrt`,
        input: m.tensorrt,
      });
    }
    if (m.machine.accelerator !== undefined) {
      for (const p of tensorrtEnvProblems(m.env ?? {}, 'tensorrt')) {
        ctx.addIssue({ code: 'custom', path: ['env', p.field], message: p.message, input: m.env?.[p.field] });
      }
    }
    for (const { key, message } of autoscalingProblems(
      m.autoscaling ?? {},
      m.machine.accelerator !== undefined,
      STACKS_YAML_NAMES,
    )) {
      ctx.addIssue({ code: 'custom', path: ['autoscaling', key], message, input: m.autoscaling });
    }
  });

/** `90s` / `30m` / `1h30m` / `2h` in seconds; undefined when not such a duration. */
function durationSeconds(d: string): number | undefined {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(d);
  if (!m || d === '') return undefined;
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

export type ModelConfig = z.output<typeof modelSchema>;
