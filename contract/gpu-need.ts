/**
 * How many GPUs a set of deployments may hold at once, per quota. Vertex AI checks a deployment's
 * GPUs against the project's per-region quota of its accelerator (Spot GPUs count against a quota
 * of their own) for its maximum replica count, and a blue/green replacement runs the old and the
 * new deployment side by side until traffic has moved. The stack prints the worst case as its
 * `peak_gpus` output; the deployer prints the exact peak of the rollout it is about to run.
 */

/** What the count needs of a deployment: the manifest's `DeploymentSpec` and the live `dedicatedResources` both fit. */
export interface GpuHolder {
  readonly machineSpec?: { readonly acceleratorType?: string; readonly acceleratorCount?: number };
  readonly maxReplicaCount?: number;
  readonly spot?: boolean;
  /** Set on a deployment that scales to zero: alone on its endpoint, it is replaced undeploy-first, never side by side. */
  readonly scaleToZeroSpec?: unknown;
}

/** GPUs per quota key: the accelerator type, with ` (spot)` appended for Spot VMs. */
export type GpuCounts = Readonly<Record<string, number>>;

/** `NVIDIA_L4` or `NVIDIA_L4 (spot)`: Spot GPUs have a quota of their own. */
export function gpuQuotaKey(acceleratorType: string, spot: boolean): string {
  return spot ? `${acceleratorType} (spot)` : acceleratorType;
}

/** The GPUs `holders` take at their maximum replica count (max replicas x GPUs per replica), per quota key; CPU-only ones count nothing. */
export function gpuCounts(holders: Iterable<GpuHolder>): GpuCounts {
  const counts: Record<string, number> = {};
  for (const h of holders) {
    const type = h.machineSpec?.acceleratorType;
    if (!type) continue;
    const key = gpuQuotaKey(type, h.spot ?? false);
    counts[key] = (counts[key] ?? 0) + (h.machineSpec?.acceleratorCount ?? 1) * (h.maxReplicaCount ?? 1);
  }
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}

/** Adds counts key by key. */
export function addGpuCounts(...all: GpuCounts[]): GpuCounts {
  return gpuCounts(
    all.flatMap((counts) =>
      Object.entries(counts).map(([key, n]) => {
        const spot = key.endsWith(' (spot)');
        return { machineSpec: { acceleratorType: key.replace(/ \(spot\)$/, ''), acceleratorCount: n }, spot };
      }),
    ),
  );
}

/**
 * The most GPUs the declared deployments may hold at once during a rollout when every one of them
 * is replaced blue/green (a new image, machine or version): the old and the new deployment at
 * their maximum replicas side by side, so twice what they hold once it is done; a deployment that
 * scales to zero is replaced undeploy-first, so it counts once. The bound a
 * region's quota must allow; the deployer prints the exact peak of each rollout.
 */
export function blueGreenPeakGpus(declared: Iterable<GpuHolder>): GpuCounts {
  const all = [...declared];
  const sideBySide = all.filter((d) => d.scaleToZeroSpec === undefined);
  return addGpuCounts(gpuCounts(all), gpuCounts(sideBySide));
}

/** The larger count of each quota key. */
export function maxGpuCounts(...all: GpuCounts[]): GpuCounts {
  const out: Record<string, number> = {};
  for (const counts of all) for (const [key, n] of Object.entries(counts)) out[key] = Math.max(out[key] ?? 0, n);
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * The Vertex AI quota metric a GPU type counts against, as `deployModel` names it when the quota
 * is exhausted, e.g. `aiplatform.googleapis.com/custom_model_serving_nvidia_l4_gpus` (Spot:
 * `custom_model_serving_preemptible_nvidia_l4_gpus`). The console lists it under IAM & Admin >
 * Quotas as "Custom model serving Nvidia L4 GPUs per region".
 */
export function servingQuotaMetric(key: string): string {
  const spot = key.endsWith(' (spot)');
  const gpu = key
    .replace(/ \(spot\)$/, '')
    .toLowerCase()
    .replace('_tesla_', '_')
    .replace(/_(80|141)gb$/, (m) => (key.startsWith('NVIDIA_A100') ? m : ''));
  return `aiplatform.googleapis.com/custom_model_serving_${spot ? 'preemptible_' : ''}${gpu}_gpus`;
}

/** `20x NVIDIA_TESLA_A100, 2x NVIDIA_L4 (spot)`; `no GPUs` when empty. */
export function describeGpus(counts: GpuCounts): string {
  const entries = Object.entries(counts);
  return entries.length === 0 ? 'no GPUs' : entries.map(([key, n]) => `${n}x ${key}`).join(', ');
}
