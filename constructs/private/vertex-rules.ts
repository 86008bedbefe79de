/**
 * Vertex AI limits and formats, written once and used by both the constructs' prop validation
 * and the stacks.yaml schema, so both accept exactly the same values.
 */

/** Endpoint ids: numeric, no leading zero, at most 10 digits (`google_vertex_ai_endpoint.name`). */
export const ENDPOINT_ID = /^[1-9][0-9]{0,9}$/;
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

/** The autoscaling metrics Vertex online prediction accepts, by their stacks.yaml key. */
export const AUTOSCALING_METRICS = {
  acceleratorDutyCycle: 'aiplatform.googleapis.com/prediction/online/accelerator/duty_cycle',
  cpuUtilization: 'aiplatform.googleapis.com/prediction/online/cpu/utilization',
  requestsPerReplica: 'aiplatform.googleapis.com/prediction/online/request_count',
} as const;

/** A stacks.yaml autoscaling key. */
export type AutoscalingMetricKey = keyof typeof AUTOSCALING_METRICS;

/** Autoscaling targets are percentages (requests: per replica) from 1 to 100. */
export const AUTOSCALING_TARGET = { min: 1, max: 100 } as const;

/**
 * Problems with which autoscaling metrics are set, beyond each target's range: the metric must be
 * one Vertex knows, and a GPU duty-cycle target needs an accelerator (a CPU-only machine has no
 * duty cycle to measure).
 */
export function autoscalingProblems(targets: Readonly<Record<string, number | undefined>>, hasAccelerator: boolean): { key: string; message: string }[] {
  return Object.entries(targets)
    .filter(([, target]) => target !== undefined)
    .flatMap(([key]) => {
      if (!(key in AUTOSCALING_METRICS)) return [{ key, message: `unknown metric; allowed: ${Object.keys(AUTOSCALING_METRICS).join(', ')}` }];
      if (key === 'acceleratorDutyCycle' && !hasAccelerator) return [{ key, message: 'needs an accelerator: a CPU-only machine has no GPU duty cycle' }];
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
}

/** `a2-highgpu-4g` -> [4]: accelerator-optimized types carry their GPU count in the name. */
const countInName = (machineType: string): readonly number[] => [Number(/-(\d+)g$/.exec(machineType)?.[1])];
const G2_L4_COUNT: Record<string, number> = { '4': 1, '8': 1, '12': 1, '16': 1, '24': 2, '32': 1, '48': 4, '96': 8 };

/**
 * Machine and accelerator combinations Vertex online prediction accepts, for the common GPU
 * families (https://cloud.google.com/vertex-ai/docs/predictions/configure-compute#gpus):
 * N1 with T4, V100, P100 or P4; G2 with L4; A2 with A100; A3 with H100 or H200. The
 * accelerator-optimized families (G2, A2, A3) come with a fixed number of GPUs per machine type.
 */
const MACHINE_RULES: readonly MachineRule[] = [
  {
    pattern: /^n1-(standard|highmem|highcpu)-(2|4|8|16|32|64|96)$/,
    family: 'N1',
    cpuOnly: true,
    accelerators: {
      NVIDIA_TESLA_T4: () => [1, 2, 4],
      NVIDIA_TESLA_P4: () => [1, 2, 4],
      NVIDIA_TESLA_P100: () => [1, 2, 4],
      NVIDIA_TESLA_V100: () => [1, 2, 4, 8],
    },
  },
  {
    pattern: /^g2-standard-(4|8|12|16|24|32|48|96)$/,
    family: 'G2',
    cpuOnly: false,
    accelerators: { NVIDIA_L4: (t) => [G2_L4_COUNT[t.split('-')[2]]] },
  },
  { pattern: /^a2-highgpu-(1|2|4|8)g$/, family: 'A2', cpuOnly: false, accelerators: { NVIDIA_TESLA_A100: countInName } },
  { pattern: /^a2-megagpu-16g$/, family: 'A2', cpuOnly: false, accelerators: { NVIDIA_TESLA_A100: countInName } },
  { pattern: /^a2-ultragpu-(1|2|4|8)g$/, family: 'A2', cpuOnly: false, accelerators: { NVIDIA_A100_80GB: countInName } },
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
  if (m.count !== undefined && !ok.includes(m.count)) {
    return [`${m.type} with ${m.accelerator} takes ${ok.join(', ')} accelerator(s) per replica, got ${m.count}`];
  }
  return [];
}

/** The accelerator count of a valid machine: the given count, else the type's own (1 for N1), 0 without accelerator. */
export function acceleratorCount(m: MachineChoice): number {
  if (m.accelerator === undefined) return 0;
  if (m.count !== undefined) return m.count;
  const rule = MACHINE_RULES.find((r) => r.pattern.test(m.type));
  return rule?.accelerators[m.accelerator as AcceleratorType]?.(m.type)[0] ?? 1;
}

