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
} from './plan';
import { type VertexClient, formatDuration } from './vertex-client';

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
  const steps = planRollout(manifest, await readLiveState(manifest, client));
  const drift = steps.find((s): s is RecordStateStep => s.kind === 'record-state')?.drift;
  if (drift) {
    log(
      `The endpoint was changed outside Terraform (fingerprint ${drift.seen}, expected ${drift.expected}); putting back what stacks.yaml declares`,
    );
  }
  await executeRollout(steps, { endpoint: manifest.endpoint, timeoutMs: manifest.operationTimeoutSeconds * 1000 }, ctx);
  log(`Rollout to ${endpointName} done in ${formatDuration(Date.now() - started)}`);
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
