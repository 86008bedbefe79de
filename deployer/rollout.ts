import { DRIFT_LABEL, type DeploymentSpec, type EndpointRef, type Manifest, type ModelVersionSpec, STATE_LABEL } from './manifest';
import { type LiveDeployedModel, type LiveEndpoint, liveFingerprint, nonZeroTraffic } from './live-state';
import { type VertexClient, formatDuration } from './vertex-client';

/** A rollout that stopped; the message says what happened, what was left as it was and why. */
export class RolloutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RolloutError';
  }
}

/** What the deployer needs besides the manifest. */
export interface RolloutContext {
  readonly client: VertexClient;
  readonly log: (line: string) => void;
}

interface UploadedModel {
  readonly name: string;
  readonly versionId?: string;
  readonly versionDescription?: string;
}

/** The model version name a deployment refers to: `projects/.../models/<id>@<version id>`. */
type VersionName = string;

const MUTABLE_MASK = [
  'dedicatedResources.minReplicaCount',
  'dedicatedResources.maxReplicaCount',
  'dedicatedResources.autoscalingMetricSpecs',
  'disableContainerLogging',
].join(',');

/**
 * Makes the endpoint serve exactly what the manifest declares, without downtime:
 * 1. uploads each model version whose alias is missing or points at a different spec;
 * 2. deploys each declared DeployedModel id that is not on the endpoint, with no traffic;
 * 3. changes replica bounds and autoscaling targets in place (`mutateDeployedModel`);
 * 4. applies the traffic split, once every declared deployment exists;
 * 5. only then undeploys what is on the endpoint but no longer declared.
 * Each step skips what is already true, so running it again changes nothing and a run that
 * stopped half way resumes. If steps 2 to 4 fail, what this run deployed is undeployed again and
 * the traffic split is left as it was.
 */
export async function applyManifest(manifest: Manifest, ctx: RolloutContext): Promise<void> {
  const { client, log } = ctx;
  const started = Date.now();
  const timeoutMs = manifest.operationTimeoutSeconds * 1000;
  const endpointName = endpointPath(manifest.endpoint);
  const declared = Object.entries(manifest.deployments);
  log(`Rollout to ${endpointName}: ${Object.keys(manifest.models).length} model version(s), ${declared.length} deployment(s)`);

  const versions = new Map<string, VersionName>();
  for (const [key, spec] of Object.entries(manifest.models)) {
    versions.set(key, await ensureModelVersion(manifest.endpoint, spec, ctx, timeoutMs));
  }

  const endpoint = await client.get<LiveEndpoint>(endpointName);
  if (!endpoint) {
    throw new RolloutError(`endpoint ${endpointName} does not exist; Terraform creates it before the rollout, so check the project and region`);
  }
  const before = liveFingerprint(endpoint);
  const expected = endpoint.labels?.[STATE_LABEL] ?? liveFingerprint({});
  const driftSeen = before !== expected ? before : undefined;
  if (driftSeen) {
    log(`The endpoint was changed outside Terraform (fingerprint ${before}, expected ${expected}); putting back what stacks.yaml declares`);
  }
  const live = new Map((endpoint.deployedModels ?? []).map((dm) => [dm.id, dm]));
  const created: string[] = [];
  try {
    for (const [id, d] of declared) {
      if (live.has(id)) continue;
      const version = versions.get(d.model);
      if (!version) throw new RolloutError(`deployment ${id} refers to model ${d.model}, which the manifest does not declare`);
      const what = `deploy ${d.model} as deployed model ${id} on ${describeMachine(d)}`;
      log(`Starting: ${what}`);
      // No trafficSplit in the request: the endpoint's split stays as it is until every
      // deployment exists (https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.endpoints/deployModel).
      const op = await client.post<{ name: string }>(`${endpointName}:deployModel`, {
        deployedModel: deployedModelBody(id, d, version),
      });
      created.push(id);
      await client.wait(op, what, timeoutMs);
    }
    for (const [id, d] of declared) {
      const current = live.get(id);
      if (!current || !needsMutation(current, d)) continue;
      const what = `resize deployed model ${id} to ${d.minReplicaCount}..${d.maxReplicaCount} replicas`;
      log(`Starting: ${what}`);
      const op = await client.post<{ name: string }>(`${endpointName}:mutateDeployedModel`, {
        deployedModel: {
          id,
          dedicatedResources: {
            minReplicaCount: d.minReplicaCount,
            maxReplicaCount: d.maxReplicaCount,
            autoscalingMetricSpecs: d.autoscalingMetricSpecs,
          },
          disableContainerLogging: d.disableContainerLogging,
        },
        updateMask: MUTABLE_MASK,
      });
      await client.wait(op, what, timeoutMs);
    }
    const desired = nonZeroTraffic(Object.fromEntries(declared.map(([id, d]) => [id, d.trafficPercent])));
    if (!sameTraffic(desired, nonZeroTraffic(endpoint.trafficSplit))) {
      log(`Setting traffic: ${describeTraffic(desired)} (was ${describeTraffic(nonZeroTraffic(endpoint.trafficSplit))})`);
      await client.patch(`${endpointName}?updateMask=trafficSplit`, { trafficSplit: desired });
    }
  } catch (err) {
    const cleanup = await undeployAll(endpointName, created, ctx, timeoutMs);
    throw new RolloutError(
      `Rollout to ${endpointName} failed; the traffic split was left as it was` +
        (created.length > 0 ? ` and the deployment(s) this run started (${created.join(', ')}) ${cleanup}` : '') +
        `. Reason: ${(err as Error).message}`,
    );
  }

  const declaredIds = new Set(declared.map(([id]) => id));
  const retired = [...live.keys()].filter((id) => !declaredIds.has(id));
  if (retired.length > 0) {
    log(`Undeploying what is no longer declared: ${retired.join(', ')}`);
    const result = await undeployAll(endpointName, retired, ctx, timeoutMs);
    if (result !== 'were undeployed again') throw new RolloutError(`New deployments serve the traffic, but old ones ${result}`);
  }
  await recordState(endpointName, driftSeen, ctx);
  log(`Rollout to ${endpointName} done in ${formatDuration(Date.now() - started)}`);
}

/**
 * Undeploys every model from the endpoint (run by `cdktf destroy` before the endpoint is
 * deleted: Vertex refuses to delete an endpoint that still has deployed models), so nothing
 * keeps holding GPU quota. The traffic split is emptied first, since a model with traffic
 * cannot be undeployed.
 */
export async function destroyEndpointDeployments(ref: EndpointRef, timeoutSeconds: number, ctx: RolloutContext): Promise<void> {
  const { client, log } = ctx;
  const endpointName = endpointPath(ref);
  const endpoint = await client.get<LiveEndpoint>(endpointName);
  const ids = (endpoint?.deployedModels ?? []).map((dm) => dm.id);
  if (!endpoint || ids.length === 0) {
    log(`Nothing deployed on ${endpointName}`);
    return;
  }
  log(`Undeploying ${ids.length} model(s) from ${endpointName}: ${ids.join(', ')}`);
  if (Object.keys(nonZeroTraffic(endpoint.trafficSplit)).length > 0) {
    await client.patch(`${endpointName}?updateMask=trafficSplit`, { trafficSplit: {} });
  }
  const result = await undeployAll(endpointName, ids, ctx, timeoutSeconds * 1000);
  const after = await client.get<LiveEndpoint>(endpointName);
  const left = (after?.deployedModels ?? []).map((dm) => dm.id);
  if (result !== 'were undeployed again' || left.length > 0) {
    throw new RolloutError(`Could not undeploy everything from ${endpointName} (still there: ${left.join(', ') || 'none'}); the endpoint cannot be deleted until they are gone`);
  }
  log(`Nothing deployed on ${endpointName} any more`);
}

async function ensureModelVersion(ref: EndpointRef, spec: ModelVersionSpec, ctx: RolloutContext, timeoutMs: number): Promise<VersionName> {
  const { client, log } = ctx;
  const modelName = `projects/${ref.project}/locations/${ref.region}/models/${spec.modelId}`;
  const marker = versionMarker(spec.fingerprint);
  const aliased = await client.get<UploadedModel>(`${modelName}@${spec.versionAlias}`);
  if (aliased?.versionId && aliased.versionDescription?.includes(marker)) {
    return `${modelName}@${aliased.versionId}`;
  }
  const parent = aliased ?? (await client.get<UploadedModel>(modelName));
  const what = `upload ${spec.modelId}@${spec.versionAlias} (spec ${spec.fingerprint})`;
  log(`Starting: ${what}${aliased ? ', replacing the version the alias pointed at' : ''}`);
  const op = await client.post<{ name: string }>(`projects/${ref.project}/locations/${ref.region}/models:upload`, {
    // A new version under the same model id; applying the alias moves it from an older version.
    ...(parent ? { parentModel: modelName } : { modelId: spec.modelId }),
    model: {
      displayName: spec.displayName,
      description: spec.description,
      versionAliases: [spec.versionAlias],
      versionDescription: `${marker} (managed by cdktf)`,
      artifactUri: spec.artifactUri,
      labels: spec.labels,
      containerSpec: spec.containerSpec,
    },
  });
  const response = await client.wait(op, what, timeoutMs);
  const versionId = response.modelVersionId;
  if (typeof versionId !== 'string') throw new RolloutError(`${what}: the upload answered without a modelVersionId`);
  return `${modelName}@${versionId}`;
}

function deployedModelBody(id: string, d: DeploymentSpec, model: VersionName): Record<string, unknown> {
  return {
    id,
    model,
    displayName: d.displayName,
    serviceAccount: d.serviceAccount,
    dedicatedResources: {
      machineSpec: d.machineSpec,
      minReplicaCount: d.minReplicaCount,
      maxReplicaCount: d.maxReplicaCount,
      autoscalingMetricSpecs: d.autoscalingMetricSpecs,
      spot: d.spot,
    },
    disableContainerLogging: d.disableContainerLogging,
    enableAccessLogging: d.enableAccessLogging,
  };
}

/**
 * Whether replica bounds, declared autoscaling targets or container logging differ. Metrics
 * the deployment does not declare are Vertex's defaults and are left alone.
 */
function needsMutation(live: LiveDeployedModel, d: DeploymentSpec): boolean {
  const r = live.dedicatedResources ?? {};
  const liveTargets = new Map((r.autoscalingMetricSpecs ?? []).map((s) => [s.metricName, s.target]));
  return (
    r.minReplicaCount !== d.minReplicaCount ||
    r.maxReplicaCount !== d.maxReplicaCount ||
    d.autoscalingMetricSpecs.some((s) => liveTargets.get(s.metricName) !== s.target) ||
    (live.disableContainerLogging ?? false) !== d.disableContainerLogging
  );
}

/** Undeploys `ids` one after another; says in words how it went. */
async function undeployAll(endpointName: string, ids: readonly string[], ctx: RolloutContext, timeoutMs: number): Promise<string> {
  const failed: string[] = [];
  for (const id of ids) {
    try {
      const op = await ctx.client.post<{ name: string }>(`${endpointName}:undeployModel`, { deployedModelId: id });
      await ctx.client.wait(op, `undeploy deployed model ${id}`, timeoutMs);
    } catch (err) {
      // A deployment that failed early may never have appeared on the endpoint.
      const live = await ctx.client.get<LiveEndpoint>(endpointName).catch(() => undefined);
      if (live && !(live.deployedModels ?? []).some((dm) => dm.id === id)) continue;
      failed.push(`${id} (${(err as Error).message})`);
    }
  }
  return failed.length === 0 ? 'were undeployed again' : `could not all be undeployed: ${failed.join('; ')}; undeploy them in the console or run the deploy again`;
}

/** Remembers what the endpoint serves now, so the next plan can tell a hand-made change. */
async function recordState(endpointName: string, driftSeen: string | undefined, ctx: RolloutContext): Promise<void> {
  const now = await ctx.client.get<LiveEndpoint>(endpointName);
  if (!now) return;
  const labels: Record<string, string> = { ...(now.labels ?? {}), [STATE_LABEL]: liveFingerprint(now) };
  if (driftSeen) labels[DRIFT_LABEL] = driftSeen;
  if (labels[STATE_LABEL] !== now.labels?.[STATE_LABEL] || labels[DRIFT_LABEL] !== now.labels?.[DRIFT_LABEL]) {
    await ctx.client.patch(`${endpointName}?updateMask=labels`, { labels });
  }
}

function endpointPath(ref: EndpointRef): string {
  return `projects/${ref.project}/locations/${ref.region}/endpoints/${ref.endpointId}`;
}

/** Text in a model version's description that names the spec it was uploaded from. */
function versionMarker(fingerprint: string): string {
  return `spec ${fingerprint}`;
}

function sameTraffic(a: Record<string, number>, b: Record<string, number>): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function describeTraffic(split: Record<string, number>): string {
  const entries = Object.entries(split);
  return entries.length === 0 ? 'none' : entries.map(([id, pct]) => `${id}=${pct}%`).join(', ');
}

function describeMachine(d: DeploymentSpec): string {
  const m = d.machineSpec;
  const gpu = m.acceleratorType ? ` + ${m.acceleratorCount ?? 1}x ${m.acceleratorType}` : '';
  return `${m.machineType}${gpu}, ${d.minReplicaCount}..${d.maxReplicaCount} replicas${d.spot ? ' (spot)' : ''}`;
}
