import { shortSha256 } from './manifest';

/** The parts of a REST `Endpoint` the deployer reads. */
export interface LiveEndpoint {
  readonly name?: string;
  readonly deployedModels?: readonly LiveDeployedModel[];
  readonly trafficSplit?: Readonly<Record<string, number>>;
  readonly labels?: Readonly<Record<string, string>>;
}

/** The parts of a REST `DeployedModel` the deployer reads. */
export interface LiveDeployedModel {
  readonly id: string;
  readonly model: string;
  readonly modelVersionId?: string;
  readonly displayName?: string;
  readonly disableContainerLogging?: boolean;
  /** The v1beta1 name of the same setting (Vertex's default: on). */
  readonly enableContainerLogging?: boolean;
  readonly dedicatedResources?: {
    readonly minReplicaCount?: number;
    readonly maxReplicaCount?: number;
    readonly autoscalingMetricSpecs?: readonly { readonly metricName: string; readonly target?: number }[];
    /** Read for the GPU count of a rollout (contract/gpu-need.ts). */
    readonly machineSpec?: { readonly acceleratorType?: string; readonly acceleratorCount?: number };
    readonly spot?: boolean;
    /** Only in a v1beta1 read (rules/vertex.ts SCALE_TO_ZERO_API_VERSION). */
    readonly scaleToZeroSpec?: { readonly minScaleupPeriod?: string; readonly idleScaledownPeriod?: string };
  };
}

/** One field of a deployed model in the live fingerprint: its path in a REST `DeployedModel` and its value when absent. */
export interface FingerprintField {
  readonly path: readonly string[];
  readonly absent: string | number;
}

/**
 * The fields of each deployed model the live fingerprint covers, in order; its traffic share
 * follows them. This list is the single source of both `liveFingerprint` below and the plan-time
 * HCL expression `VertexRollout` builds (constructs/vertex/rollout.ts), so the two cannot drift
 * apart field by field; __tests__/vertex/drift-expression.test.ts evaluates the synthesized HCL
 * against this function.
 */
export const FINGERPRINT_FIELDS: readonly FingerprintField[] = [
  { path: ['id'], absent: '' },
  { path: ['model'], absent: '' },
  { path: ['modelVersionId'], absent: '' },
  { path: ['dedicatedResources', 'minReplicaCount'], absent: 0 },
  { path: ['dedicatedResources', 'maxReplicaCount'], absent: 0 },
];

/**
 * A short fingerprint of what an endpoint serves: each deployed model's {@link FINGERPRINT_FIELDS}
 * and traffic share (0 when it has none), joined by `:`; the entries sorted and joined by `,`; the
 * first 16 hex characters of the SHA-256.
 */
export function liveFingerprint(endpoint: LiveEndpoint): string {
  const traffic = endpoint.trafficSplit ?? {};
  const entries = (endpoint.deployedModels ?? [])
    .map((dm) => [...FINGERPRINT_FIELDS.map((f) => valueAt(dm, f.path) ?? f.absent), traffic[dm.id] ?? 0].join(':'))
    .sort();
  return shortSha256(entries.join(','));
}

function valueAt(o: unknown, path: readonly string[]): unknown {
  return path.reduce<unknown>(
    (cur, key) => (cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[key] : undefined),
    o,
  );
}

/** The traffic split without zero entries, which Vertex treats the same as absent ones. */
export function nonZeroTraffic(split: Readonly<Record<string, number>> | undefined): Record<string, number> {
  return Object.fromEntries(
    Object.entries(split ?? {})
      .filter(([, pct]) => pct > 0)
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  );
}
