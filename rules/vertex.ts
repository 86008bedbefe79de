import { createHash } from 'node:crypto';
/**
 * Vertex AI limits and formats, written once and used by both the constructs' prop validation
 * and the stacks.yaml schema, so both accept exactly the same values.
 */

/**
 * Numeric endpoint ids (`google_vertex_ai_endpoint.name`): no leading zero, at most 9 digits. The
 * provider passes the name through as `?endpointId=`, and CreateEndpointRequest allows a numeric id
 * of up to 9 characters (https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.endpoints/create).
 */
export const ENDPOINT_ID = /^[1-9][0-9]{0,8}$/;
/**
 * How clients reach an endpoint: the shared public endpoint, a dedicated public DNS name, or
 * Private Service Connect (https://cloud.google.com/vertex-ai/docs/predictions/choose-endpoint-type).
 */
export const ENDPOINT_ACCESS = ['public', 'dedicated', 'private-psc'] as const;
/**
 * DeployedModel ids: 1 to 10 digits
 * (https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.endpoints#DeployedModel).
 */
export const DEPLOYED_MODEL_ID = /^[0-9]{1,10}$/;
/**
 * Model ids chosen at upload (`modelId`): up to 63 characters, lowercase letters, digits, `_` and
 * `-`, not starting with a digit or a hyphen (https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.models/upload).
 */
export const MODEL_ID = /^[a-z_][a-z0-9_-]{0,62}$/;
/**
 * Version aliases: `[a-z][a-zA-Z0-9-]{0,126}[a-z0-9]` (so never a numeric version id), see
 * https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.models#Model.FIELDS.version_aliases.
 */
export const VERSION_ALIAS = /^[a-z][a-zA-Z0-9-]{0,126}[a-z0-9]$/;
/**
 * Aliases Vertex manages itself: `default` is given to a model's first version and must always
 * sit on exactly one version (https://cloud.google.com/vertex-ai/docs/model-registry/model-alias),
 * so a stacks.yaml version may not claim it.
 */
export const RESERVED_VERSION_ALIASES: readonly string[] = ['default'];
/** Container environment variable names; `AIP_*` are Vertex's own (https://cloud.google.com/vertex-ai/docs/predictions/custom-container-requirements#aip-variables). */
export const ENV_VAR_NAME = /^(?!AIP_)[A-Za-z_][A-Za-z0-9_]*$/;
/** BigQuery destinations of request/response logging: `bq://project[.dataset[.table]]`. */
export const BIGQUERY_URI = /^bq:\/\/[a-z][a-z0-9-]{4,28}[a-z0-9](\.[A-Za-z0-9_]{1,1024}){0,2}$/;
/** Cloud KMS crypto key names. */
export const KMS_KEY_NAME = /^projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+$/;
/** `deploymentTimeout` may not exceed 2 hours (ModelContainerSpec.deploymentTimeout). */
export const MAX_DEPLOYMENT_TIMEOUT_SECONDS = 7200;
/** Replica bounds accepted for `minReplicaCount` / `maxReplicaCount`. */
export const REPLICAS = { min: 1, max: 1000 } as const;
/** `sharedMemorySizeMb` of the container, MB. */
export const SHARED_MEMORY_MB = { min: 1, max: 1_048_576 } as const;

/** The autoscaling metrics Vertex online prediction accepts, by their stacks.yaml key. */
export const AUTOSCALING_METRICS = {
  acceleratorDutyCycle: 'aiplatform.googleapis.com/prediction/online/accelerator/duty_cycle',
  cpuUtilization: 'aiplatform.googleapis.com/prediction/online/cpu/utilization',
  requestsPerReplica: 'aiplatform.googleapis.com/prediction/online/request_count',
} as const;

/** A stacks.yaml autoscaling key. */
export type AutoscalingMetricKey = keyof typeof AUTOSCALING_METRICS;

/**
 * The allowed target of each autoscaling metric. GPU duty cycle and CPU utilization are percentages
 * (1 to 100, https://cloud.google.com/vertex-ai/docs/reference/rest/v1/AutoscalingMetricSpec).
 * `request_count` is a rate, not a percentage: requests per minute per replica (the Vertex SDK's
 * `autoscaling_target_request_count_per_minute`); Vertex documents no upper bound, so 1 000 000 a
 * minute (about 16 700 a second per replica) is a sanity cap, not a Vertex limit.
 */
export const AUTOSCALING_TARGETS: Readonly<
  Record<AutoscalingMetricKey, { readonly min: number; readonly max: number; readonly unit: string }>
> = {
  acceleratorDutyCycle: { min: 1, max: 100, unit: 'percent' },
  cpuUtilization: { min: 1, max: 100, unit: 'percent' },
  requestsPerReplica: { min: 1, max: 1_000_000, unit: 'requests per minute per replica' },
};

/**
 * Targets Vertex applies to a metric the deployment does not set: 60 for CPU utilization and GPU
 * duty cycle (https://cloud.google.com/vertex-ai/docs/reference/rest/v1/DedicatedResources, field
 * autoscalingMetricSpecs). The deployer treats a live spec equal to these as "not set".
 */
export const DEFAULT_AUTOSCALING_TARGETS: Readonly<Record<string, number>> = {
  [AUTOSCALING_METRICS.acceleratorDutyCycle]: 60,
  [AUTOSCALING_METRICS.cpuUtilization]: 60,
};

/**
 * What the caller calls the settings a rule's message tells the user to change: stacks.yaml keys
 * (config/) or construct props (constructs/). The rules know neither.
 */
export interface SettingNames {
  /** e.g. `replicas.min` / `minReplicas` */
  readonly minReplicas: string;
  /** e.g. `replicas.max` / `maxReplicas` */
  readonly maxReplicas: string;
  /** e.g. `scaleToZero` */
  readonly scaleToZero: string;
  /** e.g. `endpoint.access` / `the endpoint's access` */
  readonly access: string;
  /** e.g. `machine.accelerator` / `acceleratorType` */
  readonly accelerator: string;
  /** e.g. `spot` */
  readonly spot: string;
}

/**
 * Problems with which autoscaling metrics are set, beyond each target's range: the metric must be
 * one Vertex knows, and a GPU duty-cycle target needs an accelerator (without one there is no
 * duty cycle to measure).
 */
export function autoscalingProblems(
  targets: Readonly<Record<string, number | undefined>>,
  hasAccelerator: boolean,
  names: Pick<SettingNames, 'accelerator'>,
): { key: string; message: string }[] {
  return Object.entries(targets)
    .filter(([, target]) => target !== undefined)
    .flatMap(([key]) => {
      if (!(key in AUTOSCALING_METRICS))
        return [{ key, message: `unknown metric; allowed: ${Object.keys(AUTOSCALING_METRICS).join(', ')}` }];
      if (key === 'acceleratorDutyCycle' && !hasAccelerator)
        return [
          {
            key,
            message: `needs ${names.accelerator} set: without an accelerator there is no GPU duty cycle to measure`,
          },
        ];
      return [];
    });
}

/** GPU accelerator types (REST `AcceleratorType`) the table below knows. */
export const ACCELERATOR_TYPES = [
  'NVIDIA_TESLA_T4',
  'NVIDIA_TESLA_V100',
  'NVIDIA_TESLA_P100',
  'NVIDIA_TESLA_P4',
  'NVIDIA_L4',
  'NVIDIA_TESLA_A100',
  'NVIDIA_A100_80GB',
  'NVIDIA_H100_80GB',
  'NVIDIA_H100_MEGA_80GB',
  'NVIDIA_H200_141GB',
] as const;

/** A GPU accelerator type. */
export type AcceleratorType = (typeof ACCELERATOR_TYPES)[number];

interface MachineRule {
  /** Machine types the rule covers. */
  readonly pattern: RegExp;
  /** Human name of the family, for messages. */
  readonly family: string;
  /** Accelerators the family takes, with the counts allowed for a machine type. */
  readonly accelerators: Partial<Record<AcceleratorType, (machineType: string) => readonly number[]>>;
  /** Whether a replica may run without an accelerator. */
  readonly cpuOnly: boolean;
  /** Accelerators per replica when `count` is left out; the machine type's own count when absent. */
  readonly defaultCount?: number;
}

/** `a2-highgpu-4g` -> [4]: accelerator-optimized types carry their GPU count in the name. */
const countInName = (machineType: string): readonly number[] => [Number(/-(\d+)g$/.exec(machineType)?.[1])];
const G2_L4_COUNT: Record<string, number> = { '4': 1, '8': 1, '12': 1, '16': 1, '24': 2, '32': 1, '48': 4, '96': 8 };

/**
 * N1 machines take 1, 2, 4 (or 8) GPUs, and each GPU count caps the vCPUs of the machine
 * (https://cloud.google.com/compute/docs/gpus#n1-gpus): GPU count -> most vCPUs allowed.
 */
const N1_MAX_VCPUS: Readonly<
  Record<
    'NVIDIA_TESLA_T4' | 'NVIDIA_TESLA_P4' | 'NVIDIA_TESLA_P100' | 'NVIDIA_TESLA_V100',
    Readonly<Record<number, number>>
  >
> = {
  NVIDIA_TESLA_T4: { 1: 48, 2: 48, 4: 96 },
  NVIDIA_TESLA_P4: { 1: 24, 2: 48, 4: 96 },
  NVIDIA_TESLA_P100: { 1: 16, 2: 32, 4: 64 },
  NVIDIA_TESLA_V100: { 1: 12, 2: 24, 4: 48, 8: 96 },
};

/** The GPU counts an N1 machine type may carry: those whose vCPU cap its vCPUs fit under. */
const n1Counts =
  (accelerator: keyof typeof N1_MAX_VCPUS) =>
  (machineType: string): readonly number[] => {
    const vcpus = Number(machineType.split('-')[2]);
    return Object.entries(N1_MAX_VCPUS[accelerator])
      .filter(([, max]) => vcpus <= max)
      .map(([count]) => Number(count));
  };

/**
 * Machine and accelerator combinations Vertex online prediction accepts, for the common GPU
 * families (https://cloud.google.com/vertex-ai/docs/predictions/configure-compute#gpus):
 * N1 with T4, V100, P100 or P4 (the count bounded by the machine's vCPUs); G2 with L4; A2 with
 * A100; A3 with H100 or H200. The accelerator-optimized families (G2, A2, A3) come with a fixed
 * number of GPUs per machine type.
 */
const MACHINE_RULES: readonly MachineRule[] = [
  {
    pattern: /^n1-(standard|highmem|highcpu)-(2|4|8|16|32|64|96)$/,
    family: 'N1',
    cpuOnly: true,
    defaultCount: 1,
    accelerators: {
      NVIDIA_TESLA_T4: n1Counts('NVIDIA_TESLA_T4'),
      NVIDIA_TESLA_P4: n1Counts('NVIDIA_TESLA_P4'),
      NVIDIA_TESLA_P100: n1Counts('NVIDIA_TESLA_P100'),
      NVIDIA_TESLA_V100: n1Counts('NVIDIA_TESLA_V100'),
    },
  },
  {
    pattern: /^g2-standard-(4|8|12|16|24|32|48|96)$/,
    family: 'G2',
    cpuOnly: false,
    accelerators: { NVIDIA_L4: (t) => [G2_L4_COUNT[t.split('-')[2]]] },
  },
  {
    pattern: /^a2-highgpu-(1|2|4|8)g$/,
    family: 'A2',
    cpuOnly: false,
    accelerators: { NVIDIA_TESLA_A100: countInName },
  },
  { pattern: /^a2-megagpu-16g$/, family: 'A2', cpuOnly: false, accelerators: { NVIDIA_TESLA_A100: countInName } },
  {
    pattern: /^a2-ultragpu-(1|2|4|8)g$/,
    family: 'A2',
    cpuOnly: false,
    accelerators: { NVIDIA_A100_80GB: countInName },
  },
  { pattern: /^a3-highgpu-(1|2|4|8)g$/, family: 'A3', cpuOnly: false, accelerators: { NVIDIA_H100_80GB: countInName } },
  { pattern: /^a3-megagpu-8g$/, family: 'A3', cpuOnly: false, accelerators: { NVIDIA_H100_MEGA_80GB: countInName } },
  { pattern: /^a3-ultragpu-8g$/, family: 'A3', cpuOnly: false, accelerators: { NVIDIA_H200_141GB: countInName } },
  // CPU-only general-purpose and compute-optimized families.
  { pattern: /^(e2|n2|n2d|c2|c2d|c3)-(standard|highmem|highcpu)-\d+$/, family: 'CPU', cpuOnly: true, accelerators: {} },
];

/** A machine, as stacks.yaml and the constructs describe it. */
export interface MachineChoice {
  /** Machine type such as `g2-standard-8`. */
  readonly type: string;
  /** Accelerator type; none for CPU-only serving. */
  readonly accelerator?: string;
  /** Accelerators per replica; the machine type's own count when omitted. */
  readonly count?: number;
}

/**
 * Problems with a machine/accelerator combination, in plain words (empty when Vertex accepts it).
 * @param m the machine type, accelerator and count
 */
export function machineProblems(m: MachineChoice): string[] {
  const rule = MACHINE_RULES.find((r) => r.pattern.test(m.type));
  if (!rule) {
    return [
      `machine type ${JSON.stringify(m.type)} is not one this project knows for Vertex prediction; use n1-standard|highmem|highcpu-N (T4, V100, P100, P4), g2-standard-N (L4), a2-highgpu|megagpu|ultragpu-Ng (A100), a3-highgpu|megagpu|ultragpu-Ng (H100, H200), or e2/n2/n2d/c2/c2d/c3 without an accelerator`,
    ];
  }
  const allowed = Object.keys(rule.accelerators) as AcceleratorType[];
  if (m.accelerator === undefined) {
    return rule.cpuOnly
      ? m.count !== undefined && m.count !== 0
        ? [`count ${m.count} needs an accelerator`]
        : []
      : [`${m.type} is a GPU machine type: set accelerator to ${allowed.join(' or ')}`];
  }
  const counts = rule.accelerators[m.accelerator as AcceleratorType];
  if (!counts) {
    return [
      allowed.length === 0
        ? `${m.type} takes no accelerator, got ${m.accelerator}`
        : `accelerator ${m.accelerator} does not fit ${m.type} (${rule.family}); allowed: ${allowed.join(', ')}`,
    ];
  }
  const ok = counts(m.type);
  const count = m.count ?? rule.defaultCount ?? ok[0];
  if (ok.length === 0) {
    return [
      `${m.type} has more vCPUs than any ${m.accelerator} count allows on ${rule.family} (https://cloud.google.com/compute/docs/gpus#n1-gpus); pick a smaller machine type`,
    ];
  }
  if (!ok.includes(count)) {
    return [
      `${m.type} with ${m.accelerator} takes ${ok.join(', ')} accelerator(s) per replica, got ${count}${m.count === undefined ? ' (the default)' : ''}`,
    ];
  }
  return [];
}

/** The accelerator count of a valid machine: the given count, else the type's own (1 for N1), 0 without accelerator. */
export function acceleratorCount(m: MachineChoice): number {
  if (m.accelerator === undefined) return 0;
  if (m.count !== undefined) return m.count;
  const rule = MACHINE_RULES.find((r) => r.pattern.test(m.type));
  return rule?.defaultCount ?? rule?.accelerators[m.accelerator as AcceleratorType]?.(m.type)[0] ?? 1;
}

/** A problem found by a cross-field rule: which field (relative to the rule's input) and what is wrong. */
export interface RuleProblem {
  /** `allowedProjects`, `traffic`, `version`, ... */
  readonly field: string;
  /** Index of the entry at fault, for rules over a list. */
  readonly index?: number;
  /** What is wrong, in plain words. */
  readonly message: string;
}

/**
 * `allowedProjects` is required, and non-empty, for `private-psc` (it is the Private Service
 * Connect project allowlist), and means nothing for any other access.
 */
export function endpointAccessProblems(access: string, allowedProjects: readonly string[] | undefined): RuleProblem[] {
  const allowed = allowedProjects ?? [];
  if (access === 'private-psc' && allowed.length === 0) {
    return [
      {
        field: 'allowedProjects',
        message:
          'a private-psc endpoint needs at least one project allowed to connect (allowedProjects: [consumer-project])',
      },
    ];
  }
  if (access !== 'private-psc' && allowed.length > 0) {
    return [
      {
        field: 'allowedProjects',
        message: `only applies to access: private-psc, not ${access} (got ${JSON.stringify(allowed)}; to clear a list inherited from defaults, write allowedProjects: [])`,
      },
    ];
  }
  return [];
}

/** One model version on an endpoint, as the cross-field rules see it. */
export interface ServedVersion {
  /** `<model id>@<version alias>`. */
  readonly key: string;
  /** Percent of the endpoint's traffic. */
  readonly traffic: number;
}

/**
 * Rules over all the versions one endpoint serves: their traffic adds up to 100 (when there is
 * any), and each model version is declared once (a second one would get the same DeployedModel id
 * or a clashing version alias).
 */
export function servedVersionsProblems(
  versions: readonly ServedVersion[],
  label: (index: number) => string = (i) => `models[${i}]`,
): RuleProblem[] {
  const problems: RuleProblem[] = [];
  const seen = new Map<string, number>();
  versions.forEach((v, i) => {
    const first = seen.get(v.key);
    if (first !== undefined) {
      problems.push({
        field: 'version',
        index: i,
        message: `${v.key} is already declared at ${label(first)}; each model version once per endpoint`,
      });
    } else {
      seen.set(v.key, i);
    }
  });
  if (versions.length > 0) {
    const total = versions.reduce((sum, v) => sum + v.traffic, 0);
    if (total !== 100) {
      problems.push({
        field: 'traffic',
        message: `traffic must add up to 100 across the endpoint's models, got ${total} (${versions.map((v) => `${v.key}: ${v.traffic}`).join(', ')})`,
      });
    }
  }
  return problems;
}

/**
 * Limits of a container probe's timing fields (REST `Probe`,
 * https://cloud.google.com/vertex-ai/docs/reference/rest/v1/ModelContainerSpec#Probe): Vertex
 * documents the minimums (period, timeout and failure threshold at least 1, initial delay at least
 * 0) and the defaults (10 s, 1 s, 3, 0). It documents no maximum; the maximums here are sanity caps
 * (an hour between probes, 1000 failures) so a typo such as `periodSeconds: 6000` is caught. The
 * reference also says periodSeconds "must be less than timeout_seconds" while its own defaults
 * (10 and 1) break that, so that sentence is not enforced.
 */
export const PROBE_LIMITS = {
  periodSeconds: { min: 1, max: 3600, default: 10 },
  timeoutSeconds: { min: 1, max: 3600, default: 1 },
  failureThreshold: { min: 1, max: 1000, default: 3 },
  successThreshold: { min: 1, max: 1000, default: 1 },
  initialDelaySeconds: { min: 0, max: 3600, default: 0 },
} as const;

/** A probe timing field. */
export type ProbeTimingField = keyof typeof PROBE_LIMITS;

/**
 * The startup probe a GPU model gets when stacks.yaml sets none: GET the health route every 10 s
 * and give up after 180 failures, i.e. 30 minutes. On its first start a container builds its
 * TensorRT engines (one per input shape it warms up, batch 1 and `MAX_BATCH_SIZE`; the engine
 * cache starts empty in every new container), which takes from a few minutes for a small detector
 * on an A100 to well over 10 minutes for large models on an L4 or T4; the health route answers 503
 * until then. Vertex's default startup budget (3 failures, 10 s apart) would restart the container
 * in the middle of the build, every time. 30 minutes is twice the slowest build we expect and stays
 * within the 2 h deployment timeout; a 5 s timeout keeps a health request that waits behind the
 * build's CPU work from counting as a failure.
 */
export const GPU_DEFAULT_STARTUP_PROBE = { periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 180 } as const;

/*
 * The shared TensorRT engine cache (`tensorrt.engineCache`) does not shorten this probe, on
 * purpose. The stack cannot know at synth time whether a replica will find engines for its model,
 * GPU and versions: the first replica of a new model version, GPU type or image never does, and a
 * budget sized for a warm start would restart it in the middle of its build, again and again. A
 * startup probe's budget is a ceiling, not a wait: a replica that loads cached engines is healthy
 * seconds after its model is read and passes its next probe (10 s apart), so the cache shortens
 * every later start by the build time without any change here.
 */

/**
 * The deployment timeout a GPU model gets when stacks.yaml sets none, seconds: the startup probe's
 * 30 minutes of engine build plus 10 minutes to pull the GPU image (a few GB) and read the model,
 * so that Vertex does not give up on a replica its probe still waits for. The timeout, like the
 * probe, is a ceiling: a replica that starts faster is deployed as soon as it is healthy.
 */
export const GPU_DEFAULT_DEPLOYMENT_TIMEOUT_SECONDS =
  GPU_DEFAULT_STARTUP_PROBE.periodSeconds * GPU_DEFAULT_STARTUP_PROBE.failureThreshold + 600;

/** Precisions the serving image's TensorRT provider builds engines in (`TENSORRT_PRECISION`). */
export const TENSORRT_PRECISIONS = ['fp32', 'fp16', 'int8'] as const;

/**
 * The precision GPU models get: FP16. TensorRT keeps a layer in FP32 where FP16 would overflow,
 * and a detector's boxes and scores do not need more than FP16's 3 significant digits, so FP16
 * engines give the same detections at the usual reported 2 to 3 times FP32's speed on the Tensor
 * Core GPUs Vertex offers (T4, L4, A100, H100); Ultralytics' TensorRT guide for the YOLO family
 * treats FP16 as the lossless speed-up and INT8 as the one that needs calibration data and costs
 * accuracy (https://docs.ultralytics.com/integrations/tensorrt/). INT8 needs a QDQ-quantized model,
 * which the shipped detectors (dynamically quantized or float) are not.
 */
export const DEFAULT_TENSORRT_PRECISION = 'fp16';

/** Folder under a model's `artifactUri` its TensorRT engines are shared in. */
export const TENSORRT_CACHE_FOLDER = 'tensorrt-cache';

/**
 * Container variables the TensorRT setting owns: the two the stack passes, and the provider's own
 * ones the serving image sets from them (and refuses when set by hand).
 */
const TENSORRT_OWNED_ENV =
  /^(TENSORRT_PRECISION|TENSORRT_CACHE_URI|ORT_TENSORRT_(FP16_ENABLE|INT8_ENABLE|ENGINE_CACHE_ENABLE|TIMING_CACHE_ENABLE|CACHE_PATH))$/;

/**
 * Variables of `env` the TensorRT setting owns, each as a problem naming `setting` (the caller's
 * name for it: `tensorrt` in stacks.yaml, the `tensorrt` prop of VertexModel).
 */
export function tensorrtEnvProblems(env: Record<string, string>, setting: string): RuleProblem[] {
  return Object.keys(env)
    .filter((name) => TENSORRT_OWNED_ENV.test(name))
    .map((name) => ({
      field: name,
      message: `is set from ${setting} (the serving image's precision and engine cache); remove it and use ${setting} instead`,
    }));
}

/**
 * The endpoint settings whose change replaces the Vertex AI endpoint: Terraform deletes it and
 * creates another, so it gets a new endpoint id, clients calling the old one fail, and nothing is
 * served until the models are deployed again. The project, region and endpoint id name it (an
 * endpoint id left out is derived from the project, region and environment name, so renaming the
 * environment changes it); the access mode (Private Service Connect, dedicated DNS) and the CMEK
 * key cannot change on an existing endpoint.
 */
export interface EndpointIdentity {
  /** The environment's name (the stack's). */
  readonly environment: string;
  readonly project: string;
  readonly region: string;
  readonly access: (typeof ENDPOINT_ACCESS)[number];
  readonly kmsKeyName?: string;
  /** Absent: derived from the project, region and environment name. */
  readonly endpointId?: string;
}

/** The settings of {@link EndpointIdentity} in words, for messages. */
export function describeEndpointIdentity(i: EndpointIdentity): string {
  return [
    `project ${i.project}`,
    `region ${i.region}`,
    `access ${i.access}`,
    i.kmsKeyName ? `KMS key ${i.kmsKeyName}` : 'no KMS key',
    i.endpointId ? `endpoint id ${i.endpointId}` : `endpoint id derived from the environment name ${i.environment}`,
  ].join(', ');
}

/** The 16-hex-digit fingerprint of an {@link EndpointIdentity}: the value `endpoint.identity` acknowledges. */
export function endpointIdentity(i: EndpointIdentity): string {
  const { environment, project, region, access, kmsKeyName, endpointId } = i;
  const named = endpointId === undefined ? { environment } : { endpointId };
  const text = JSON.stringify({ project, region, access, kmsKeyName: kmsKeyName ?? '', ...named });
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/**
 * Scale To Zero (Preview): a deployment with `minReplicaCount: 0` and a `scaleToZeroSpec`, which
 * Vertex scales down to no replica (and no bill) after a stretch without traffic
 * (https://cloud.google.com/vertex-ai/docs/predictions/autoscaling#scale-to-zero). Each period is
 * 5 minutes to 8 hours, 1 hour by default (`ScaleToZeroSpec`,
 * https://cloud.google.com/vertex-ai/docs/reference/rest/v1beta1/DedicatedResources#ScaleToZeroSpec):
 * - `idleMinutes` (`idleScaledownPeriod`): how long without traffic before the replicas go;
 * - `minUpMinutes` (`minScaleupPeriod`): how long a deployment stays up after it started (deploy or
 *   wake-up) before its traffic is looked at at all.
 */
export const SCALE_TO_ZERO_MINUTES = { min: 5, max: 480, default: 60 } as const;

/**
 * The API version Scale To Zero needs: only the v1beta1 `deployModel` and `mutateDeployedModel`
 * take `minReplicaCount: 0` and `scaleToZeroSpec` (autoscaling page above; v1's DedicatedResources
 * requires `minReplicaCount` of at least 1, https://cloud.google.com/vertex-ai/docs/reference/rest/v1/DedicatedResources).
 * Everything else stays on v1.
 */
export const SCALE_TO_ZERO_API_VERSION = 'v1beta1';

/** Replicas Vertex starts when a scaled-to-zero deployment wakes up (`initialReplicaCount`, 1 to max; Vertex's default 1). */
export const SCALE_TO_ZERO_INITIAL_REPLICAS = 1;

/** A deployment's scale-to-zero settings, as the rules see them. */
export interface ScaleToZeroChoice {
  /** `replicas.min` / `minReplicas`. */
  readonly minReplicas: number;
  /** `replicas.max` / `maxReplicas`. */
  readonly maxReplicas: number;
  /** Whether `scaleToZero` is set. */
  readonly scaleToZero: boolean;
}

/**
 * Problems with a deployment's scale-to-zero settings, from the limitations of Scale To Zero
 * (https://cloud.google.com/vertex-ai/docs/predictions/autoscaling#scale-to-zero):
 * - `replicas.min: 0` and `scaleToZero` go together: Vertex would scale to zero with its default
 *   periods (1 h) without a `scaleToZeroSpec`, but the project asks for the periods to be written
 *   down (they decide the bill and the cold starts); `scaleToZero` on a deployment that keeps a
 *   replica means nothing;
 * - `replicas.max` at least 1 (`initialReplicaCount` is 1 to max);
 * - "cannot be enabled on shared public endpoints, all other endpoint types are compatible": not
 *   `access: public` (`dedicated` and `private-psc` are fine);
 * - "only compatible with single model deployments and one model per endpoint": the endpoint
 *   carries no other model (so the deployment has all of its traffic);
 * - "doesn't support multi-host GPU or multi-host TPU deployments": every machine type this project
 *   accepts (MACHINE_RULES) runs a replica on one host, so no machine type is refused. The page
 *   names no machine family or accelerator it does not support (its own example uses
 *   `n1-standard-4`), so CPU and every GPU of the table are allowed.
 */
export function scaleToZeroProblems(s: ScaleToZeroChoice, n: SettingNames): RuleProblem[] {
  const problems: RuleProblem[] = [];
  if (s.minReplicas === 0 && !s.scaleToZero) {
    problems.push({
      field: 'scaleToZero',
      message: `${n.minReplicas} 0 scales the deployment to zero (Vertex's Scale To Zero, Preview): also set ${n.scaleToZero}: { idleMinutes, minUpMinutes } (${SCALE_TO_ZERO_MINUTES.min} to ${SCALE_TO_ZERO_MINUTES.max} minutes each), or keep ${n.minReplicas} at 1 or more`,
    });
  }
  if (s.minReplicas > 0 && s.scaleToZero) {
    problems.push({
      field: 'scaleToZero',
      message: `only applies with ${n.minReplicas} 0; ${n.minReplicas} is ${s.minReplicas}, so the deployment never scales to zero: remove ${n.scaleToZero} or set ${n.minReplicas} to 0`,
    });
  }
  if (s.minReplicas === 0 && s.maxReplicas < 1) {
    problems.push({
      field: 'replicas',
      message: `a deployment that scales to zero needs ${n.maxReplicas} of at least 1 (the replicas it wakes up to)`,
    });
  }
  return problems;
}

/**
 * Problems with the endpoint a scaled-to-zero deployment is on (see {@link scaleToZeroProblems}):
 * not a shared public endpoint, and no other model on it.
 * @param access endpoint access (`public`, `dedicated`, `private-psc`)
 * @param deploymentsOnEndpoint how many deployments the endpoint carries, the scaled-to-zero one included
 */
export function scaleToZeroEndpointProblems(
  access: string,
  deploymentsOnEndpoint: number,
  n: SettingNames,
): RuleProblem[] {
  const problems: RuleProblem[] = [];
  if (access === 'public') {
    problems.push({
      field: 'access',
      message: `Vertex cannot scale to zero on a shared public endpoint (https://cloud.google.com/vertex-ai/docs/predictions/autoscaling#scale-to-zero): set ${n.access} to dedicated or private-psc, or keep ${n.minReplicas} at 1 or more`,
    });
  }
  if (deploymentsOnEndpoint > 1) {
    problems.push({
      field: 'models',
      message: `Vertex scales to zero only a model alone on its endpoint, and this endpoint carries ${deploymentsOnEndpoint} models: no canary next to a scaled-to-zero model (https://cloud.google.com/vertex-ai/docs/predictions/autoscaling#scale-to-zero)`,
    });
  }
  return problems;
}

/**
 * Where a deployment's machines come from (`machineSpec.reservationAffinity`,
 * https://cloud.google.com/vertex-ai/docs/reference/rest/v1/MachineSpec#ReservationAffinity): `any`
 * consumes any matching reservation and falls back to on-demand, `specific` only the named
 * reservation, `none` only on-demand capacity.
 */
export const RESERVATION_AFFINITIES = {
  any: 'ANY_RESERVATION',
  specific: 'SPECIFIC_RESERVATION',
  none: 'NO_RESERVATION',
} as const;

/** A stacks.yaml reservation affinity. */
export type ReservationAffinityKey = keyof typeof RESERVATION_AFFINITIES;

/** The label key that names a reservation, for `SPECIFIC_RESERVATION` (ReservationAffinity.key). */
export const RESERVATION_NAME_KEY = 'compute.googleapis.com/reservation-name';

/**
 * Reservation names: Compute Engine resource names, 1 to 63 lowercase letters, digits and hyphens,
 * starting with a letter and not ending with a hyphen
 * (https://cloud.google.com/compute/docs/reference/rest/v1/reservations). A reservation shared from
 * another project is named `projects/OWNER_PROJECT/reservations/NAME`
 * (https://cloud.google.com/vertex-ai/docs/predictions/use-reservations).
 */
export const RESERVATION_NAME =
  /^(projects\/[a-z][a-z0-9-]{4,28}[a-z0-9]\/reservations\/)?[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** A deployment's reservation settings, as the rules see them. */
export interface ReservationChoice {
  /** `any`, `specific` or `none`. */
  readonly affinity: string;
  /** The reservation's name, for `specific`. */
  readonly name?: string;
  /** Whether the replicas run on Spot VMs. */
  readonly spot: boolean;
  /** Whether the machine has an accelerator. */
  readonly hasAccelerator: boolean;
}

/**
 * Problems with a deployment's reservation settings
 * (https://cloud.google.com/vertex-ai/docs/predictions/use-reservations):
 * - `specific` needs the reservation's `name`, and only `specific` takes one (its form is
 *   {@link RESERVATION_NAME}, checked where the name is read);
 * - "Vertex AI can only consume reservations of VMs that have GPUs attached": `any` or `specific`
 *   on a machine without an accelerator is refused (`none` is always fine);
 * - Spot and a specific reservation: the page lists no Spot VM support for reservations, and a
 *   Spot replica draws on Spot capacity, not on the reserved VMs the reservation is billed for.
 *   The docs are silent on whether `deployModel` refuses the pair, so this takes the safe side
 *   and refuses it. `any` with Spot is allowed (it falls back to other capacity by definition).
 */
export function reservationProblems(r: ReservationChoice, n: SettingNames): RuleProblem[] {
  const problems: RuleProblem[] = [];
  if (!(r.affinity in RESERVATION_AFFINITIES)) {
    return [
      {
        field: 'affinity',
        message: `${JSON.stringify(r.affinity)} is not a reservation affinity; allowed: ${Object.keys(RESERVATION_AFFINITIES).join(', ')}`,
      },
    ];
  }
  if (r.affinity === 'specific' && r.name === undefined) {
    problems.push({
      field: 'name',
      message: 'affinity specific needs the name of the reservation (name: my-reservation)',
    });
  }
  if (r.affinity !== 'specific' && r.name !== undefined) {
    problems.push({
      field: 'name',
      message: `only applies to affinity specific, not ${r.affinity}; remove name or set affinity: specific`,
    });
  }
  if (r.affinity !== 'none' && !r.hasAccelerator) {
    problems.push({
      field: 'affinity',
      message: `Vertex AI consumes reservations only of GPU machines (https://cloud.google.com/vertex-ai/docs/predictions/use-reservations): set ${n.accelerator}, or use affinity none`,
    });
  }
  if (r.affinity === 'specific' && r.spot) {
    problems.push({
      field: 'affinity',
      message: `spot replicas do not run on a specific reservation (Spot VMs are not reserved capacity; https://cloud.google.com/vertex-ai/docs/predictions/use-reservations lists no Spot support): set ${n.spot} false, or use affinity any`,
    });
  }
  return problems;
}

/** `machineSpec.reservationAffinity` of a valid choice, as Vertex takes it. */
export function reservationAffinitySpec(r: { readonly affinity: ReservationAffinityKey; readonly name?: string }): {
  reservationAffinityType: (typeof RESERVATION_AFFINITIES)[ReservationAffinityKey];
  key?: string;
  values?: string[];
} {
  return r.affinity === 'specific' && r.name !== undefined
    ? { reservationAffinityType: RESERVATION_AFFINITIES.specific, key: RESERVATION_NAME_KEY, values: [r.name] }
    : { reservationAffinityType: RESERVATION_AFFINITIES[r.affinity] };
}
