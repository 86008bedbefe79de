import { createHash } from 'node:crypto';

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
  readonly dedicatedResources?: {
    readonly minReplicaCount?: number;
    readonly maxReplicaCount?: number;
    readonly autoscalingMetricSpecs?: readonly { readonly metricName: string; readonly target?: number }[];
  };
}

/**
 * A short fingerprint of what an endpoint serves: each deployed model's id, model, version,
 * replica bounds and traffic share. `VertexRollout` computes the same string and hash in HCL at
 * plan time (from the endpoint read back over HTTP), so the two must stay identical: fields joined
 * by `:`, entries sorted and joined by `,`, the first 16 hex characters of the SHA-256.
 */
export function liveFingerprint(endpoint: LiveEndpoint): string {
  const traffic = endpoint.trafficSplit ?? {};
  const entries = (endpoint.deployedModels ?? [])
    .map((dm) =>
      [
        dm.id,
        dm.model,
        dm.modelVersionId ?? '',
        dm.dedicatedResources?.minReplicaCount ?? 0,
        dm.dedicatedResources?.maxReplicaCount ?? 0,
        traffic[dm.id] ?? 0,
      ].join(':'),
    )
    .sort();
  return createHash('sha256').update(entries.join(',')).digest('hex').slice(0, 16);
}

/** The traffic split without zero entries, which Vertex treats the same as absent ones. */
export function nonZeroTraffic(split: Readonly<Record<string, number>> | undefined): Record<string, number> {
  return Object.fromEntries(Object.entries(split ?? {}).filter(([, pct]) => pct > 0).sort(([a], [b]) => (a < b ? -1 : 1)));
}
