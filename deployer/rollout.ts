import { type GpuCounts, describeGpus, servingQuotaMetric } from '../contract/gpu-need';
import { type LiveEndpoint } from '../contract/live-state';
import { type EndpointRef, type Manifest, apiVersionOf } from '../contract/manifest';
import { RolloutError } from './errors';
import { type RolloutContext, executeRollout, executeTeardown } from './execute';
import {
  type LiveModel,
  type LiveModelVersion,
  type LiveState,
  type RecordStateStep,
  endpointPath,
  modelPath,
  planRollout,
  planTeardown,
  rolloutGpuNeed,
} from './plan';
import { QuotaError, type VertexClient, formatDuration } from './vertex-client';

/**
 * `deployer apply`: reads what the endpoint and the model registry hold, plans the steps that make
 * the endpoint serve exactly what the manifest declares (deployer/plan.ts), and carries them out
 * (deployer/execute.ts). Running it again changes nothing; a run that stopped half way resumes.
 */
export async function applyManifest(manifest: Manifest, ctx: RolloutContext): Promise<void> {
  const { client, log } = ctx;
  const started = Date.now();
  const endpointName = endpointPath(manifest.endpoint);
  log(
    `Rollout to ${endpointName}: ${Object.keys(manifest.models).length} model version(s), ${Object.keys(manifest.deployments).length} deployment(s)`,
  );
  const live = await readLiveState(manifest, client);
  const steps = planRollout(manifest, live);
  const need = rolloutGpuNeed(manifest, live, steps);
  log(
    `GPUs in ${manifest.endpoint.region} at the rollout's peak: ${describeGpus(need.peak)}; once done: ${describeGpus(need.after)}` +
      (Object.keys(need.peak).length > 0 ? ` (quota: ${quotaNames(need.peak)})` : ''),
  );
  const drift = steps.find((s): s is RecordStateStep => s.kind === 'record-state')?.drift;
  if (drift) {
    log(
      `The endpoint was changed outside Terraform (fingerprint ${drift.seen}, expected ${drift.expected}); putting back what stacks.yaml declares`,
    );
  }
  try {
    await executeRollout(
      steps,
      { endpoint: manifest.endpoint, timeoutMs: manifest.operationTimeoutSeconds * 1000 },
      ctx,
    );
  } catch (err) {
    const quota = quotaCause(err);
    if (!quota) throw err;
    throw new RolloutError(
      `${(err as Error).message}\nQuota ${quota.quotaMetric} in ${quota.region ?? manifest.endpoint.region}${quota.limit ? ` (limit ${quota.limit})` : ''} ` +
        `is too small: this rollout needs ${describeGpus(need.peak)} at its peak (every deployment it keeps or adds, at its max replicas). ` +
        'Request more (docs/operations.md#gpu-quota), lower replicas.max, or roll out in smaller steps; retrying will not help until the quota is raised',
      quota,
    );
  }
  log(`Rollout to ${endpointName} done in ${formatDuration(Date.now() - started)}`);
  if (steps.length > 0) await reportServiceAttachment(endpointName, ctx);
}

/**
 * Prints the Private Service Connect service attachment of a private-psc endpoint. It exists only
 * once a model is deployed, so the stack's `psc_service_attachment` output, read at plan time, is
 * empty after the first deploy; this line gives consumers the value at once.
 */
async function reportServiceAttachment(endpointName: string, { client, log }: RolloutContext): Promise<void> {
  const endpoint = await client.get<{ deployedModels?: { privateEndpoints?: { serviceAttachment?: string } }[] }>(
    endpointName,
  );
  const attachment = endpoint?.deployedModels?.find((d) => d.privateEndpoints?.serviceAttachment)?.privateEndpoints
    ?.serviceAttachment;
  if (attachment) {
    log(`Private Service Connect service attachment (the target of consumers' forwarding rules): ${attachment}`);
  }
}

/** `deployer destroy`: undeploys every model from the endpoint, so that Terraform can delete it. */
export async function destroyEndpointDeployments(
  ref: EndpointRef,
  timeoutSeconds: number,
  ctx: RolloutContext,
): Promise<void> {
  const endpoint = await ctx.client.get<LiveEndpoint>(endpointPath(ref));
  await executeTeardown(planTeardown(endpoint), { endpoint: ref, timeoutMs: timeoutSeconds * 1000 }, ctx);
}

/** The QuotaError that stopped a rollout, itself or as the cause of the error that reports it. */
export function quotaCause(err: unknown): QuotaError | undefined {
  for (let e = err; e instanceof Error; e = e.cause) if (e instanceof QuotaError) return e;
  return undefined;
}

function quotaNames(counts: GpuCounts): string {
  return Object.keys(counts)
    .map((key) => servingQuotaMetric(key))
    .join(', ');
}

/** The endpoint, and for each model version of the manifest the version its alias names. */
async function readLiveState(manifest: Manifest, client: VertexClient): Promise<LiveState> {
  const endpointName = endpointPath(manifest.endpoint);
  // A deployment that scales to zero is read with v1beta1, the version that shows its
  // scaleToZeroSpec (v1 leaves it out); every other endpoint with v1.
  const beta = Object.values(manifest.deployments).some((d) => apiVersionOf(d) !== 'v1');
  const endpoint = await client.get<LiveEndpoint>(endpointName, beta ? 'v1beta1' : 'v1');
  if (!endpoint) {
    throw new RolloutError(
      `endpoint ${endpointName} does not exist; Terraform creates it before the rollout, so check the project and region`,
    );
  }
  const models: Record<string, LiveModel> = {};
  for (const [key, spec] of Object.entries(manifest.models)) {
    const modelName = modelPath(manifest.endpoint, spec.modelId);
    const aliased = await client.get<LiveModelVersion>(`${modelName}@${spec.versionAlias}`);
    // Without the alias, whether the model exists decides how a new version is uploaded.
    const exists = aliased !== undefined || (await client.get<LiveModelVersion>(modelName)) !== undefined;
    models[key] = { aliased, exists };
  }
  return { endpoint, models };
}
