import { type LiveEndpoint } from '../contract/live-state';
import { type EndpointRef, type Manifest } from '../contract/manifest';
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

/** The endpoint, and for each model version of the manifest the version its alias names. */
async function readLiveState(manifest: Manifest, client: VertexClient): Promise<LiveState> {
  const endpointName = endpointPath(manifest.endpoint);
  const endpoint = await client.get<LiveEndpoint>(endpointName);
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
