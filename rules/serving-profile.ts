/**
 * Serving profiles of CPU-only models: how many inference workers the serving image runs and how
 * many onnxruntime intra-op threads each gets, from the machine type's vCPUs. The server computes
 * the same layout from its own cores when `WORKERS` and `INTRA_OP_THREADS` are unset
 * (serving-image/src/config.ts `profileThreadLayout`, which cannot import this file: the image is
 * its own build context); __tests__/vertex/serving-profile.test.ts holds the two equal.
 */

/** What a profile optimises the thread layout for (the server's `SERVING_PROFILE`). */
export const SERVING_PROFILES = ['latency', 'throughput'] as const;
/** One of {@link SERVING_PROFILES}. */
export type ServingProfile = (typeof SERVING_PROFILES)[number];

/**
 * Most workers the throughput profile starts: each holds a session (the model's weights and its
 * memory arena), so a 96-vCPU machine would otherwise hold 96 copies.
 */
export const MAX_THROUGHPUT_WORKERS = 16;

/**
 * The CPU thread layout of a profile on `vcpus` cores, the workers sharing them:
 * - `latency`: one worker running each image on every core (the shortest time per image);
 * - `throughput`: one worker per core (up to {@link MAX_THROUGHPUT_WORKERS}, then more threads
 *   each), each running its own image, so the cores stay on inference while the next images are
 *   decoded (docs/benchmarks.md).
 */
export function cpuThreadLayout(
  profile: ServingProfile,
  vcpus: number,
): { readonly workers: number; readonly intraOpThreads: number } {
  const workers = profile === 'throughput' ? Math.min(vcpus, MAX_THROUGHPUT_WORKERS) : 1;
  return { workers, intraOpThreads: Math.max(1, Math.floor(vcpus / workers)) };
}

/**
 * vCPUs of a CPU machine type that carries them in its name, the last number of
 * `FAMILY-SHAPE-VCPUS` (n1-standard-8, e2-highcpu-16, c3-standard-22:
 * https://cloud.google.com/compute/docs/machine-resource); undefined for other names.
 */
export function machineVcpus(machineType: string): number | undefined {
  const m = /^[a-z0-9]+-(standard|highmem|highcpu)-(\d+)$/.exec(machineType);
  return m ? Number(m[2]) : undefined;
}
