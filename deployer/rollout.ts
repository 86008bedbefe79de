import { DEFAULT_AUTOSCALING_TARGETS } from '../rules/vertex';
import {
  DRIFT_LABEL,
  type DeploymentSpec,
  type EndpointRef,
  type Manifest,
  type ModelVersionSpec,
  STATE_LABEL,
  servedFingerprint,
} from '../contract/manifest';
import { type LiveDeployedModel, type LiveEndpoint, liveFingerprint, nonZeroTraffic } from '../contract/live-state';
import { type Operation, type VertexClient, VertexApiError, formatDuration } from './vertex-client';

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
 * 1. uploads each model version whose alias is missing or points at a different spec (compared with
 *    the image digest; a changed spec under a deployed model id that is live stops the rollout here);
 * 2. deploys each declared DeployedModel id that is not on the endpoint, with no traffic;
 * 3. changes replica bounds, autoscaling targets (the whole list) and container logging in place
 *    (`mutateDeployedModel`);
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
  log(
    `Rollout to ${endpointName}: ${Object.keys(manifest.models).length} model version(s), ${declared.length} deployment(s)`,
  );

  const endpoint = await client.get<LiveEndpoint>(endpointName);
  if (!endpoint) {
    throw new RolloutError(
      `endpoint ${endpointName} does not exist; Terraform creates it before the rollout, so check the project and region`,
    );
  }
  const live = new Map((endpoint.deployedModels ?? []).map((dm) => [dm.id, dm]));

  const versions = new Map<string, VersionName>();
  for (const [key, spec] of Object.entries(manifest.models)) {
    const serving = declared.filter(([id, d]) => d.model === key && live.has(id)).map(([id]) => live.get(id)!);
    versions.set(key, await ensureModelVersion(manifest.endpoint, spec, serving, ctx, timeoutMs));
  }

  const before = liveFingerprint(endpoint);
  const expected = endpoint.labels?.[STATE_LABEL] ?? liveFingerprint({});
  const driftSeen = before !== expected ? before : undefined;
  if (driftSeen) {
    log(
      `The endpoint was changed outside Terraform (fingerprint ${before}, expected ${expected}); putting back what stacks.yaml declares`,
    );
  }
  // A DeployedModel cannot change its model version in place; a declared id that is live must serve
  // the version its alias names (e.g. not after someone moved the alias by hand).
  for (const [id, d] of declared) {
    const current = live.get(id);
    const wanted = versions.get(d.model)?.split('@')[1];
    if (current?.modelVersionId !== undefined && wanted !== undefined && current.modelVersionId !== wanted) {
      throw new RolloutError(
        `deployed model ${id} serves version ${current.modelVersionId} of ${d.model.split('@')[0]}, but ${d.model} names version ${wanted}; ` +
          `a deployed model cannot change its version in place, so nothing was changed on ${endpointName}. ` +
          'Point the alias back, or give the model a new `version` in stacks.yaml to roll it out next to the old one',
      );
    }
  }
  const created: string[] = [];
  try {
    for (const [id, d] of declared) {
      if (live.has(id)) continue;
      const version = versions.get(d.model);
      if (!version)
        throw new RolloutError(`deployment ${id} refers to model ${d.model}, which the manifest does not declare`);
      const what = `deploy ${d.model} as deployed model ${id} on ${describeMachine(d)}`;
      log(`Starting: ${what}`);
      // Recorded before the request: if its answer is lost after Vertex took it, a failure later in
      // this run must still undeploy it.
      created.push(id);
      const onEndpoint = async () =>
        ((await client.get<LiveEndpoint>(endpointName))?.deployedModels ?? []).some((dm) => dm.id === id);
      // No trafficSplit in the request: the endpoint's split stays as it is until every
      // deployment exists (https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.endpoints/deployModel).
      const op = await client
        .post<Operation | undefined>(
          `${endpointName}:deployModel`,
          { deployedModel: deployedModelBody(id, d, version) },
          async () =>
            // Before a retry: if the lost answer's request went through, the id is on the endpoint already.
            (await onEndpoint()) ? { name: `${endpointName}/deployModel`, done: true } : undefined,
        )
        .catch((err: unknown) => {
          // ALREADY_EXISTS: an earlier request with this id (an answer lost, or another run) is under way.
          if (err instanceof VertexApiError && err.status === 409) return undefined;
          throw err;
        });
      if (op) {
        await client.wait(op, what, timeoutMs);
      } else {
        log(`  ${id} already exists on the endpoint or is being deployed; waiting for it`);
        if (!(await client.pollUntil(what, timeoutMs, onEndpoint))) {
          throw new RolloutError(
            `${what}: Vertex says the id exists, but it did not appear on the endpoint within ${formatDuration(timeoutMs)}`,
          );
        }
      }
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
      log(
        `Setting traffic: ${describeTraffic(desired)} (was ${describeTraffic(nonZeroTraffic(endpoint.trafficSplit))})`,
      );
      await client.patch(`${endpointName}?updateMask=trafficSplit`, { trafficSplit: desired });
    }
  } catch (err) {
    const failed = await undeployAll(endpointName, created, ctx, timeoutMs);
    const cleanup =
      failed.length === 0 ? 'were undeployed again' : `could not all be undeployed: ${undeployAdvice(failed)}`;
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
    const failed = await undeployAll(endpointName, retired, ctx, timeoutMs);
    if (failed.length > 0)
      throw new RolloutError(
        `New deployments serve the traffic, but old ones could not all be undeployed: ${undeployAdvice(failed)}`,
      );
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
export async function destroyEndpointDeployments(
  ref: EndpointRef,
  timeoutSeconds: number,
  ctx: RolloutContext,
): Promise<void> {
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
  const failed = await undeployAll(endpointName, ids, ctx, timeoutSeconds * 1000);
  const after = await client.get<LiveEndpoint>(endpointName);
  const left = (after?.deployedModels ?? []).map((dm) => dm.id);
  if (failed.length > 0 || left.length > 0) {
    throw new RolloutError(
      `Could not undeploy everything from ${endpointName} (still there: ${left.join(', ') || 'none'}); the endpoint cannot be deleted until they are gone`,
    );
  }
  log(`Nothing deployed on ${endpointName} any more`);
}

/**
 * The model version of `spec`, uploaded when its alias is missing or names a version uploaded from
 * another spec. `serving` are the live deployed models the manifest keeps under their ids for it.
 */
async function ensureModelVersion(
  ref: EndpointRef,
  spec: ModelVersionSpec,
  serving: readonly LiveDeployedModel[],
  ctx: RolloutContext,
  timeoutMs: number,
): Promise<VersionName> {
  const { client, log } = ctx;
  const modelName = `projects/${ref.project}/locations/${ref.region}/models/${spec.modelId}`;
  const fingerprint = servedFingerprint(spec);
  const marker = versionMarker(fingerprint);
  const fromThisSpec = (m: UploadedModel | undefined): m is UploadedModel & { versionId: string } =>
    m?.versionId !== undefined && (m.versionDescription ?? '').includes(marker);
  const aliased = await client.get<UploadedModel>(`${modelName}@${spec.versionAlias}`);
  if (fromThisSpec(aliased)) {
    return `${modelName}@${aliased.versionId}`;
  }
  if (aliased?.versionId && serving.some((dm) => dm.modelVersionId === aliased.versionId)) {
    // The DeployedModel id comes from the synth-time fingerprint, which knows the image by its
    // content tag; the digest is only known after the push. So the same tag pushed again with other
    // bytes is a new upload under an id already deployed, and a deployed model cannot change its
    // version in place: stop before uploading, with nothing changed.
    throw new RolloutError(
      `${spec.modelId}@${spec.versionAlias} changed (spec ${fingerprint}; the image digest is ${String(spec.containerSpec.imageUri).split('@')[1] ?? 'unknown'}) ` +
        `but keeps its deployed model id ${serving.map((dm) => dm.id).join(', ')}, which serves version ${aliased.versionId}: the image was pushed again under the same tag with other bytes. ` +
        'A deployed model cannot change its version in place, so nothing was uploaded or changed. Give the model a new `version` in stacks.yaml to roll the new image out next to the old one',
    );
  }
  const parent = aliased ?? (await client.get<UploadedModel>(modelName));
  const what = `upload ${spec.modelId}@${spec.versionAlias} (spec ${fingerprint})`;
  log(`Starting: ${what}${aliased ? ', replacing the version the alias pointed at' : ''}`);
  // Before a retry: a lost answer's upload may have gone through; uploading again would add a second version.
  const alreadyUploaded = async (): Promise<Operation | undefined> => {
    const found = await client.get<UploadedModel>(`${modelName}@${spec.versionAlias}`);
    return fromThisSpec(found)
      ? { name: `${modelName}/upload`, done: true, response: { modelVersionId: found.versionId } }
      : undefined;
  };
  const op = await client.post<Operation>(
    `projects/${ref.project}/locations/${ref.region}/models:upload`,
    {
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
    },
    alreadyUploaded,
  );
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
 * Whether replica bounds, autoscaling targets or container logging differ. The live targets are
 * compared as a whole with the declared ones, so removing a target reaches Vertex too (mutate
 * replaces the whole list); a live CPU or GPU target at Vertex's default of 60 that is not declared
 * counts as unset, since Vertex may report the defaults it applies.
 */
function needsMutation(live: LiveDeployedModel, d: DeploymentSpec): boolean {
  const r = live.dedicatedResources ?? {};
  const declared = new Map(d.autoscalingMetricSpecs.map((s) => [s.metricName, s.target]));
  const liveTargets = new Map(
    (r.autoscalingMetricSpecs ?? [])
      .filter(
        (s) =>
          declared.has(s.metricName) ||
          (s.target ?? DEFAULT_AUTOSCALING_TARGETS[s.metricName]) !== DEFAULT_AUTOSCALING_TARGETS[s.metricName],
      )
      .map((s) => [s.metricName, s.target]),
  );
  const sameTargets =
    liveTargets.size === declared.size && [...declared].every(([metric, target]) => liveTargets.get(metric) === target);
  return (
    r.minReplicaCount !== d.minReplicaCount ||
    r.maxReplicaCount !== d.maxReplicaCount ||
    !sameTargets ||
    (live.disableContainerLogging ?? false) !== d.disableContainerLogging
  );
}

/** Undeploys each of `ids`; returns those that failed, each with its reason (empty when all went). */
async function undeployAll(
  endpointName: string,
  ids: readonly string[],
  ctx: RolloutContext,
  timeoutMs: number,
): Promise<string[]> {
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
  return failed;
}

function undeployAdvice(failed: readonly string[]): string {
  return `${failed.join('; ')}; undeploy them in the console or run the deploy again`;
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
