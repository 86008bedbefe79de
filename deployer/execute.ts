import { type LiveEndpoint, liveFingerprint } from '../contract/live-state';
import { DRIFT_LABEL, type DeploymentSpec, type EndpointRef, STATE_LABEL, apiVersionOf } from '../contract/manifest';
import { SCALE_TO_ZERO_INITIAL_REPLICAS } from '../rules/vertex';
import { RolloutError } from './errors';
import {
  type DeployStep,
  type LiveModelVersion,
  type MutateStep,
  type RecordStateStep,
  type SetTrafficStep,
  type Step,
  type TeardownStep,
  type UploadStep,
  type VersionName,
  endpointPath,
  isUploadedFrom,
  locationPath,
  modelPath,
} from './plan';
import { type Operation, type VertexClient, VertexApiError, formatDuration } from './vertex-client';

/** What the deployer needs besides the steps. */
export interface RolloutContext {
  readonly client: VertexClient;
  readonly log: (line: string) => void;
}

/** The endpoint the steps act on, and how long each long-running operation may take. */
export interface Target {
  readonly endpoint: EndpointRef;
  readonly timeoutMs: number;
}

/** What every step needs. */
interface Session extends RolloutContext, Target {
  readonly endpointName: string;
}

/** One run of a rollout's steps: what they need, and what the steps before left for the next ones. */
interface Run extends Session {
  /** Model key -> the version its upload step made. */
  readonly uploaded: Map<string, VersionName>;
  /** Deployed model ids this run asked Vertex to deploy, undeployed again when a later change fails. */
  readonly created: string[];
  /** Deployed model ids this run undeployed before deploying (the replacement of a model that scales to zero). */
  readonly undeployedFirst: string[];
}

/**
 * What mutateDeployedModel changes, per API version
 * (https://cloud.google.com/vertex-ai/docs/reference/rest/v1beta1/projects.locations.endpoints/mutateDeployedModel):
 * container logging is `disableContainerLogging` on v1 but `enableContainerLogging` on v1beta1,
 * and only v1beta1 changes `scaleToZeroSpec`.
 */
const MUTABLE_MASK = {
  v1: [
    'dedicatedResources.minReplicaCount',
    'dedicatedResources.maxReplicaCount',
    'dedicatedResources.autoscalingMetricSpecs',
    'disableContainerLogging',
  ].join(','),
  v1beta1: [
    'dedicatedResources.minReplicaCount',
    'dedicatedResources.maxReplicaCount',
    'dedicatedResources.autoscalingMetricSpecs',
    'dedicatedResources.scaleToZeroSpec',
    'enableContainerLogging',
  ].join(','),
} as const;

/**
 * Carries out the steps of `planRollout` (deployer/plan.ts), in their order. Uploads come first and change
 * nothing on the endpoint, so a failed one just stops. If a deploy, mutate or traffic step fails,
 * what this run deployed is undeployed again and the traffic split is left as it was (the plan sets
 * it after every deployment exists). A failed undeploy of a retired model stops the run after the
 * others were tried. Each request that may have gone through before its answer was lost is checked
 * before a retry, so nothing is uploaded or deployed twice.
 */
export async function executeRollout(steps: readonly Step[], target: Target, ctx: RolloutContext): Promise<void> {
  const run: Run = {
    ...ctx,
    ...target,
    endpointName: endpointPath(target.endpoint),
    uploaded: new Map(),
    created: [],
    undeployedFirst: [],
  };
  for (const step of steps) {
    if (step.kind === 'deploy' || step.kind === 'mutate' || step.kind === 'set-traffic') {
      try {
        await runStep(run, step);
      } catch (err) {
        throw await rollBack(run, err as Error);
      }
    } else {
      await runStep(run, step);
    }
  }
}

/**
 * Carries out the steps of `planTeardown`, then checks that nothing is left on the endpoint
 * (it cannot be deleted until then). Every model is tried even when one fails.
 */
export async function executeTeardown(
  steps: readonly TeardownStep[],
  target: Target,
  ctx: RolloutContext,
): Promise<void> {
  const { client, log } = ctx;
  const session: Session = { ...ctx, ...target, endpointName: endpointPath(target.endpoint) };
  const ids = steps.flatMap((s) => (s.kind === 'undeploy' ? s.deployedModelIds : []));
  if (ids.length === 0) {
    log(`Nothing deployed on ${session.endpointName}`);
    return;
  }
  const clear = steps.find((s): s is SetTrafficStep => s.kind === 'set-traffic');
  // Vertex refuses to undeploy a model that still gets traffic, so the split is emptied first.
  log(
    clear
      ? `Emptying the traffic split of ${session.endpointName} (was ${describeTraffic(clear.was)}), then undeploying ${ids.length} model(s): ${ids.join(', ')}`
      : `Undeploying ${ids.length} model(s) from ${session.endpointName} (the traffic split is already empty): ${ids.join(', ')}`,
  );
  const failed: string[] = [];
  for (const step of steps) {
    // The line above announced the whole teardown, emptying the traffic split included.
    if (step.kind === 'set-traffic') await patchTraffic(session, step.split);
    else failed.push(...(await undeployAll(session, step.deployedModelIds)).failed);
  }
  const after = await client.get<LiveEndpoint>(session.endpointName);
  const left = (after?.deployedModels ?? []).map((dm) => dm.id);
  if (failed.length > 0 || left.length > 0) {
    throw new RolloutError(
      `Could not undeploy everything from ${session.endpointName} (still there: ${left.join(', ') || 'none'})` +
        (failed.length > 0 ? `; failed: ${failed.join('; ')}` : '') +
        '; the endpoint cannot be deleted until they are gone: run the destroy again, or undeploy them in the console',
    );
  }
  log(`Nothing deployed on ${session.endpointName} any more`);
}

async function runStep(run: Run, step: Step): Promise<void> {
  switch (step.kind) {
    case 'upload':
      run.uploaded.set(step.model, await upload(run, step));
      return;
    case 'deploy':
      return deploy(run, step);
    case 'mutate':
      return mutate(run, step);
    case 'set-traffic':
      run.log(`Setting traffic: ${describeTraffic(step.split)} (was ${describeTraffic(step.was)})`);
      return patchTraffic(run, step.split);
    case 'undeploy':
      // Before any deploy of this run: a model that scales to zero being replaced (one model per endpoint).
      await retire(run, step.deployedModelIds, run.created.length === 0);
      if (run.created.length === 0) run.undeployedFirst.push(...step.deployedModelIds);
      return;
    case 'record-state':
      return recordState(run, step);
  }
}

/** Undeploys what this run deployed; returns the error that says what happened and what was left. */
async function rollBack(run: Run, err: Error): Promise<RolloutError> {
  const { undeployed, absent, failed } = await undeployAll(run, run.created);
  const cleanup: string[] = [];
  if (undeployed.length > 0)
    cleanup.push(`deployed model(s) this run started (${undeployed.join(', ')}) were undeployed again`);
  if (absent.length > 0) {
    cleanup.push(
      `deployed model(s) ${absent.join(', ')} never appeared on the endpoint (Vertex did not create them, or removed them when their deployment failed), so there was nothing to undeploy`,
    );
  }
  if (failed.length > 0)
    cleanup.push(`deployed model(s) this run started could not all be undeployed: ${undeployAdvice(failed)}`);
  return new RolloutError(
    `Rollout to ${run.endpointName} failed; ` +
      (run.undeployedFirst.length > 0
        ? `the model that scales to zero it replaces (${run.undeployedFirst.join(', ')}) had been undeployed first, so the endpoint serves nothing until a deploy succeeds`
        : 'the traffic split was left as it was') +
      cleanup.map((c) => `; ${c}`).join('') +
      `. Reason: ${err.message}`,
    err,
  );
}

/** Uploads the step's version; returns its name with the version id Vertex gave it. */
async function upload(run: Run, step: UploadStep): Promise<VersionName> {
  const { client, log } = run;
  const { spec, marker } = step;
  const modelName = modelPath(run.endpoint, spec.modelId);
  const what = `upload ${spec.modelId}@${spec.versionAlias} (${marker})`;
  log(`Starting: ${what}${step.movesAlias ? ', replacing the version the alias pointed at' : ''}`);
  // Before a retry: a lost answer's upload may have gone through; uploading again would add a second version.
  const alreadyUploaded = async (): Promise<Operation | undefined> => {
    const found = await client.get<LiveModelVersion>(`${modelName}@${spec.versionAlias}`);
    return isUploadedFrom(found, marker)
      ? { name: `${modelName}/upload`, done: true, response: { modelVersionId: found.versionId } }
      : undefined;
  };
  // Vertex copies the artifacts with its service agent, inside the upload's operation, and the stack
  // may have just granted it the bucket: a refusal of the request or of the copy is retried while
  // IAM propagates.
  const waitingFor = `the Vertex AI service agent's read grant on ${spec.artifactUri ?? 'the artifacts'}`;
  const response = await client.whilePermissionPropagates(what, waitingFor, async () => {
    const op = await client.post<Operation>(
      `${locationPath(run.endpoint)}/models:upload`,
      {
        // A new version under the same model id; applying the alias moves it from an older version.
        ...(step.underExistingModel ? { parentModel: modelName } : { modelId: spec.modelId }),
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
    return client.wait(op, what, run.timeoutMs);
  });
  const versionId = response.modelVersionId;
  if (typeof versionId !== 'string') throw new RolloutError(`${what}: the upload answered without a modelVersionId`);
  return `${modelName}@${versionId}`;
}

async function deploy(run: Run, step: DeployStep): Promise<void> {
  const { client, log, endpointName, timeoutMs } = run;
  const { deployedModelId: id, deployment: d } = step;
  // The plan puts each upload before the deployments of the version it makes.
  const version = 'existing' in step.version ? step.version.existing : run.uploaded.get(step.version.uploadedFor)!;
  const what = `deploy ${d.model} as deployed model ${id} on ${describeMachine(d)}`;
  log(`Starting: ${what}`);
  // Recorded before the request: if its answer is lost after Vertex took it, a failure later in
  // this run must still undeploy it.
  run.created.push(id);
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
      {
        // v1beta1 only for a deployment that scales to zero (rules/vertex.ts SCALE_TO_ZERO_API_VERSION).
        version: apiVersionOf(d),
        // On a first deployment the serving account is minutes old: Vertex may not act as it until IAM propagates.
        propagating: { what, waitingFor: `the serving account ${d.serviceAccount}` },
      },
    )
    .catch((err: unknown) => {
      // ALREADY_EXISTS: an earlier request with this id (an answer lost, or another run) is under way.
      if (err instanceof VertexApiError && err.status === 409) return undefined;
      throw err;
    });
  if (op) {
    await client.wait(op, what, timeoutMs, apiVersionOf(d));
  } else {
    log(`  ${id} already exists on the endpoint or is being deployed; waiting for it`);
    if (!(await client.pollUntil(what, timeoutMs, onEndpoint))) {
      throw new RolloutError(
        `${what}: Vertex says the id exists, but it did not appear on the endpoint within ${formatDuration(timeoutMs)}`,
      );
    }
  }
}

async function mutate(run: Run, step: MutateStep): Promise<void> {
  const what = `resize deployed model ${step.deployedModelId} to ${step.minReplicaCount}..${step.maxReplicaCount} replicas`;
  run.log(`Starting: ${what}`);
  const beta = step.apiVersion === 'v1beta1';
  const op = await run.client.post<{ name: string }>(
    `${run.endpointName}:mutateDeployedModel`,
    {
      deployedModel: {
        id: step.deployedModelId,
        dedicatedResources: {
          minReplicaCount: step.minReplicaCount,
          maxReplicaCount: step.maxReplicaCount,
          autoscalingMetricSpecs: step.autoscalingMetricSpecs,
          ...(beta ? { scaleToZeroSpec: step.scaleToZeroSpec } : {}),
        },
        ...(beta
          ? { enableContainerLogging: !step.disableContainerLogging }
          : { disableContainerLogging: step.disableContainerLogging }),
      },
      updateMask: MUTABLE_MASK[step.apiVersion],
    },
    undefined,
    { version: step.apiVersion },
  );
  await run.client.wait(op, what, run.timeoutMs, step.apiVersion);
}

async function patchTraffic(run: Session, split: Readonly<Record<string, number>>): Promise<void> {
  await run.client.patch(`${run.endpointName}?updateMask=trafficSplit`, { trafficSplit: split });
}

/** Undeploys what is no longer declared, once the new deployments serve the traffic. */
async function retire(run: Run, ids: readonly string[], beforeDeploying: boolean): Promise<void> {
  run.log(`Undeploying what is no longer declared: ${ids.join(', ')}`);
  const { failed } = await undeployAll(run, ids);
  if (failed.length === 0) return;
  throw new RolloutError(
    beforeDeploying
      ? `The traffic split of ${run.endpointName} was emptied to replace a model that scales to zero, but it could not be undeployed, so nothing was deployed and the endpoint serves nothing: ${undeployAdvice(failed)}`
      : `New deployments serve the traffic, but old ones could not all be undeployed: ${undeployAdvice(failed)}`,
  );
}

/** What became of each id {@link undeployAll} was given. */
interface UndeployOutcome {
  /** Undeployed by this call. */
  readonly undeployed: string[];
  /** Not on the endpoint when the undeploy failed: never created, or already removed by Vertex. */
  readonly absent: string[];
  /** Still there or unknown, each with its reason. */
  readonly failed: string[];
}

/** Undeploys each of `ids`, every one tried even when one fails. */
async function undeployAll(run: Session, ids: readonly string[]): Promise<UndeployOutcome> {
  const outcome: UndeployOutcome = { undeployed: [], absent: [], failed: [] };
  for (const id of ids) {
    try {
      const op = await run.client.post<{ name: string }>(`${run.endpointName}:undeployModel`, { deployedModelId: id });
      await run.client.wait(op, `undeploy deployed model ${id}`, run.timeoutMs);
      outcome.undeployed.push(id);
    } catch (err) {
      // A deployment that failed early may never have appeared on the endpoint (the undeploy is a 404).
      const live = await run.client.get<LiveEndpoint>(run.endpointName).catch(() => undefined);
      if (live && !(live.deployedModels ?? []).some((dm) => dm.id === id)) outcome.absent.push(id);
      else outcome.failed.push(`${id} (${(err as Error).message})`);
    }
  }
  return outcome;
}

function undeployAdvice(failed: readonly string[]): string {
  return `${failed.join('; ')}; undeploy them in the console or run the deploy again`;
}

/**
 * Labels the endpoint with the fingerprint of what it serves now. Read again rather than predicted:
 * the fingerprint covers what Vertex answers (such as the version ids of this run's uploads).
 */
async function recordState(run: Run, step: RecordStateStep): Promise<void> {
  const now = await run.client.get<LiveEndpoint>(run.endpointName);
  if (!now) return;
  const labels: Record<string, string> = { ...(now.labels ?? {}), [STATE_LABEL]: liveFingerprint(now) };
  if (step.drift) labels[DRIFT_LABEL] = step.drift.seen;
  if (labels[STATE_LABEL] !== now.labels?.[STATE_LABEL] || labels[DRIFT_LABEL] !== now.labels?.[DRIFT_LABEL]) {
    await run.client.patch(`${run.endpointName}?updateMask=labels`, { labels });
  }
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
      // Scale To Zero (v1beta1): the periods, and the replicas a wake-up starts.
      ...(d.scaleToZeroSpec
        ? { scaleToZeroSpec: d.scaleToZeroSpec, initialReplicaCount: SCALE_TO_ZERO_INITIAL_REPLICAS }
        : {}),
      autoscalingMetricSpecs: d.autoscalingMetricSpecs,
      spot: d.spot,
    },
    disableContainerLogging: d.disableContainerLogging,
    enableAccessLogging: d.enableAccessLogging,
  };
}

function describeTraffic(split: Readonly<Record<string, number>>): string {
  const entries = Object.entries(split);
  return entries.length === 0 ? 'none' : entries.map(([id, pct]) => `${id}=${pct}%`).join(', ');
}

function describeMachine(d: DeploymentSpec): string {
  const m = d.machineSpec;
  const gpu = m.acceleratorType ? ` + ${m.acceleratorCount ?? 1}x ${m.acceleratorType}` : '';
  const reserved = m.reservationAffinity
    ? `, reservation ${m.reservationAffinity.values?.[0] ?? m.reservationAffinity.reservationAffinityType}`
    : '';
  const idle = d.scaleToZeroSpec ? ` (scales to zero after ${d.scaleToZeroSpec.idleScaledownPeriod} idle)` : '';
  return `${m.machineType}${gpu}, ${d.minReplicaCount}..${d.maxReplicaCount} replicas${idle}${d.spot ? ' (spot)' : ''}${reserved}`;
}
