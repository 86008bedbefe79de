import { type LiveDeployedModel, type LiveEndpoint, liveFingerprint, nonZeroTraffic } from '../contract/live-state';
import {
  type ApiVersion,
  type DeploymentSpec,
  type EndpointRef,
  type Manifest,
  type ModelVersionSpec,
  STATE_LABEL,
  apiVersionOf,
  servedFingerprint,
} from '../contract/manifest';
import { type GpuCounts, type GpuHolder, gpuCounts, maxGpuCounts } from '../contract/gpu-need';
import { DEFAULT_AUTOSCALING_TARGETS } from '../rules/vertex';
import { RolloutError } from './errors';

/*
 * What the deployer will do, worked out from the manifest and what it read from Vertex, as plain
 * data: no requests, no clock. Keeping the decisions apart from the requests lets tests pin every
 * decision without a fake server, and lets a person print a rollout before it runs
 * (deployer/execute.ts carries the steps out).
 */

/** A model version as `models.get` answers it. */
export interface LiveModelVersion {
  readonly versionId?: string;
  /** Holds the marker of the spec the version was uploaded from (see {@link isUploadedFrom}). */
  readonly versionDescription?: string;
}

/** What the model registry holds for one model version of the manifest. */
export interface LiveModel {
  /** The version its alias names; absent when no version carries the alias. */
  readonly aliased?: LiveModelVersion;
  /** Whether the model id exists, with any version (always so when `aliased` is set). */
  readonly exists: boolean;
}

/** What the deployer reads before it plans a rollout. */
export interface LiveState {
  readonly endpoint: LiveEndpoint;
  /** By manifest model key (`<model id>@<alias>`); a key left out counts as a model that does not exist. */
  readonly models: Readonly<Record<string, LiveModel>>;
}

/** A model version's resource name: `projects/.../models/<id>@<version id>`. */
export type VersionName = string;

/**
 * The version a deployment serves: one that exists, or the one an upload step earlier in the plan
 * makes (its version id is only known once Vertex answers).
 */
export type VersionRef = { readonly existing: VersionName } | { readonly uploadedFor: string };

/** Upload a model version, as a new model or as a new version of an existing one. */
export interface UploadStep {
  readonly kind: 'upload';
  /** Manifest model key. */
  readonly model: string;
  readonly spec: ModelVersionSpec;
  /** Text the version description gets, naming the spec, so a later run finds the version uploaded from it. */
  readonly marker: string;
  /** The model id exists (or an earlier upload of this plan creates it): the upload adds a version to it. */
  readonly underExistingModel: boolean;
  /** The alias names a version uploaded from another spec now; the upload moves the alias. */
  readonly movesAlias: boolean;
}

/** Deploy a model version under a DeployedModel id, with no traffic. */
export interface DeployStep {
  readonly kind: 'deploy';
  readonly deployedModelId: string;
  readonly deployment: DeploymentSpec;
  readonly version: VersionRef;
}

/**
 * Change replica bounds, autoscaling targets (the whole list), scale-to-zero periods and container
 * logging of a live deployed model in place.
 */
export interface MutateStep {
  readonly kind: 'mutate';
  readonly deployedModelId: string;
  /** v1beta1 for a deployment that scales to zero (only v1beta1 mutates `scaleToZeroSpec`), else v1. */
  readonly apiVersion: ApiVersion;
  readonly minReplicaCount: number;
  readonly maxReplicaCount: number;
  readonly autoscalingMetricSpecs: DeploymentSpec['autoscalingMetricSpecs'];
  readonly scaleToZeroSpec?: DeploymentSpec['scaleToZeroSpec'];
  readonly disableContainerLogging: boolean;
}

/** Replace the endpoint's traffic split (both without zero entries). */
export interface SetTrafficStep {
  readonly kind: 'set-traffic';
  readonly split: Readonly<Record<string, number>>;
  readonly was: Readonly<Record<string, number>>;
}

/** Undeploy deployed models that hold no traffic. */
export interface UndeployStep {
  readonly kind: 'undeploy';
  readonly deployedModelIds: readonly string[];
}

/**
 * Record the fingerprint of what the endpoint serves once the steps before are done, so the next
 * plan can tell a hand-made change; with `drift`, also the hand-made change this rollout put back.
 */
export interface RecordStateStep {
  readonly kind: 'record-state';
  /** `seen`: the fingerprint the endpoint had; `expected`: the one the last rollout recorded. */
  readonly drift?: { readonly seen: string; readonly expected: string };
}

export type Step = UploadStep | DeployStep | MutateStep | SetTrafficStep | UndeployStep | RecordStateStep;

/** The steps of `deployer destroy`. */
export type TeardownStep = SetTrafficStep | UndeployStep;

/**
 * The steps that make the endpoint serve exactly what the manifest declares, without downtime, in
 * this order:
 * 1. upload each model version whose alias is missing or names a version of another spec;
 * 2. deploy each declared DeployedModel id that is not on the endpoint, with no traffic;
 * 3. mutate each live declared deployment whose replicas, autoscaling or logging differ;
 * 4. set the traffic split, once every declared deployment exists;
 * 5. only then undeploy what is on the endpoint but no longer declared;
 * 6. record the state label.
 * A deployment that scales to zero must be alone on its endpoint (Vertex's Scale To Zero), so when
 * one is declared or live and another replaces it, the old one goes first: traffic is emptied, the
 * old deployment undeployed, then the new one deployed and given the traffic (the endpoint serves
 * nothing in between: a dev or staging trade-off, like the cold starts).
 * What is already true gets no step, so an endpoint that serves the manifest gets none, and a run
 * that stopped half way resumes where it stopped.
 * @throws RolloutError when the manifest cannot be rolled out onto this endpoint; nothing has been changed then
 */
export function planRollout(manifest: Manifest, live: LiveState): Step[] {
  const endpointName = endpointPath(manifest.endpoint);
  const declared = Object.entries(manifest.deployments);
  const onEndpoint = new Map((live.endpoint.deployedModels ?? []).map((dm) => [dm.id, dm]));

  const uploads: UploadStep[] = [];
  const versions = new Map<string, VersionRef>();
  for (const [key, spec] of Object.entries(manifest.models)) {
    const modelName = modelPath(manifest.endpoint, spec.modelId);
    const marker = versionMarker(servedFingerprint(spec));
    const { aliased, exists } = live.models[key] ?? { exists: false };
    if (isUploadedFrom(aliased, marker)) {
      versions.set(key, { existing: `${modelName}@${aliased.versionId}` });
      continue;
    }
    // The live deployed models the manifest keeps under their ids for this version.
    const serving = declared.filter(([id, d]) => d.model === key && onEndpoint.has(id)).map(([id]) => id);
    if (aliased?.versionId && serving.some((id) => onEndpoint.get(id)?.modelVersionId === aliased.versionId)) {
      // The DeployedModel id comes from the synth-time fingerprint, which knows the image by its
      // content tag; the digest is only known after the push. So the same tag pushed again with other
      // bytes is a new upload under an id already deployed, and a deployed model cannot change its
      // version in place: stop before uploading, with nothing changed.
      throw new RolloutError(
        `${spec.modelId}@${spec.versionAlias} changed (${marker}; the image digest is ${String(spec.containerSpec.imageUri).split('@')[1] ?? 'unknown'}) ` +
          `but keeps its deployed model id ${serving.join(', ')}, which serves version ${aliased.versionId}: the image was pushed again under the same tag with other bytes. ` +
          'A deployed model cannot change its version in place, so nothing was uploaded or changed. Give the model a new `version` in stacks.yaml to roll the new image out next to the old one',
      );
    }
    uploads.push({
      kind: 'upload',
      model: key,
      spec,
      marker,
      // Two versions of a new model: the first upload creates the model, the second adds to it.
      underExistingModel: exists || uploads.some((u) => u.spec.modelId === spec.modelId),
      movesAlias: aliased !== undefined,
    });
    versions.set(key, { uploadedFor: key });
  }

  // A DeployedModel cannot change its model version in place; a declared id that is live must serve
  // the version its alias names (e.g. not after someone moved the alias by hand). A version still to
  // be uploaded is new, so no live deployed model serves it yet.
  for (const [id, d] of declared) {
    const current = onEndpoint.get(id)?.modelVersionId;
    const wanted = versions.get(d.model);
    if (current === undefined || wanted === undefined) continue;
    const wantedId = 'existing' in wanted ? wanted.existing.split('@')[1] : undefined;
    if (current === wantedId) continue;
    throw new RolloutError(
      `deployed model ${id} serves version ${current} of ${d.model.split('@')[0]}, but ${d.model} names ${wantedId === undefined ? 'a version still to be uploaded' : `version ${wantedId}`}; ` +
        `a deployed model cannot change its version in place, so nothing was changed on ${endpointName}. ` +
        'Point the alias back, or give the model a new `version` in stacks.yaml to roll it out next to the old one',
    );
  }

  const deploys = declared
    .filter(([id]) => !onEndpoint.has(id))
    .map(([id, d]): DeployStep => {
      const version = versions.get(d.model);
      if (!version) {
        throw new RolloutError(
          `deployment ${id} refers to model ${d.model}, which the manifest does not declare; nothing was changed on ${endpointName}`,
        );
      }
      return { kind: 'deploy', deployedModelId: id, deployment: d, version };
    });

  const mutations = declared.flatMap(([id, d]): MutateStep[] => {
    const current = onEndpoint.get(id);
    if (!current || !needsMutation(current, d)) return [];
    return [
      {
        kind: 'mutate',
        deployedModelId: id,
        apiVersion: apiVersionOf(d),
        minReplicaCount: d.minReplicaCount,
        maxReplicaCount: d.maxReplicaCount,
        autoscalingMetricSpecs: d.autoscalingMetricSpecs,
        ...(d.scaleToZeroSpec ? { scaleToZeroSpec: d.scaleToZeroSpec } : {}),
        disableContainerLogging: d.disableContainerLogging,
      },
    ];
  });

  const split = nonZeroTraffic(Object.fromEntries(declared.map(([id, d]) => [id, d.trafficPercent])));
  const was = nonZeroTraffic(live.endpoint.trafficSplit);
  const traffic: SetTrafficStep[] = sameTraffic(split, was) ? [] : [{ kind: 'set-traffic', split, was }];

  const declaredIds = new Set(declared.map(([id]) => id));
  const retired = [...onEndpoint.keys()].filter((id) => !declaredIds.has(id));
  const undeploys: UndeployStep[] = retired.length > 0 ? [{ kind: 'undeploy', deployedModelIds: retired }] : [];

  // Scale To Zero: one model per endpoint, so a replacement undeploys the old one before it deploys.
  const alone =
    declared.some(([, d]) => d.scaleToZeroSpec !== undefined) ||
    // Vertex leaves a zero out of its JSON: no minReplicaCount is 0.
    [...onEndpoint.values()].some((dm) => (dm.dedicatedResources?.minReplicaCount ?? 0) === 0);
  const changes: Step[] =
    alone && deploys.length > 0 && undeploys.length > 0
      ? [
          ...uploads,
          ...(Object.keys(was).length > 0 ? [{ kind: 'set-traffic' as const, split: {}, was }] : []),
          ...undeploys,
          ...deploys,
          ...mutations,
          ...(Object.keys(split).length > 0 ? [{ kind: 'set-traffic' as const, split, was: {} }] : []),
        ]
      : [...uploads, ...deploys, ...mutations, ...traffic, ...undeploys];
  const seen = liveFingerprint(live.endpoint);
  const recorded = live.endpoint.labels?.[STATE_LABEL];
  // With no change to make, the label needs writing only when it does not match (a hand-made change,
  // or an endpoint never rolled out to); a label that matches makes the whole plan empty.
  if (changes.length === 0 && recorded === seen) return [];
  const expected = recorded ?? liveFingerprint({});
  return [...changes, { kind: 'record-state', ...(seen !== expected ? { drift: { seen, expected } } : {}) }];
}

/** The GPUs a rollout holds: at its peak, and once it is done. */
export interface GpuNeed {
  /** While the new deployments start next to the old ones (before the undeploy step). */
  readonly peak: GpuCounts;
  /** What the declared deployments hold once the retired ones are undeployed. */
  readonly after: GpuCounts;
}

/**
 * The GPUs the steps of {@link planRollout} hold at once, at each deployment's maximum replica count
 * (what Vertex checks against the region's quota): every deployed model on the endpoint (those to
 * be retired are undeployed last), plus each new deployment, with a resized one at the larger of
 * its old and new bounds. A blue/green replacement counts twice, as it runs.
 */
export function rolloutGpuNeed(manifest: Manifest, live: LiveState, steps: readonly Step[]): GpuNeed {
  const mutated = new Map(steps.flatMap((s) => (s.kind === 'mutate' ? [[s.deployedModelId, s] as const] : [])));
  const onEndpoint = (live.endpoint.deployedModels ?? []).map((dm): GpuHolder => {
    const r = dm.dedicatedResources ?? {};
    const declared = manifest.deployments[dm.id];
    const resized = mutated.get(dm.id)?.maxReplicaCount ?? 0;
    return {
      // A live model read without its machine (an older API answer) counts as declared.
      machineSpec: r.machineSpec ?? declared?.machineSpec,
      maxReplicaCount: Math.max(r.maxReplicaCount ?? declared?.maxReplicaCount ?? 1, resized),
      spot: r.spot ?? declared?.spot,
    };
  });
  const deploys = steps.flatMap((s) => (s.kind === 'deploy' ? [s.deployment] : []));
  const after = gpuCounts(Object.values(manifest.deployments));
  // Undeploy-first (a model that scales to zero, alone on its endpoint): the old and the new never run together.
  const firstDeploy = steps.findIndex((s) => s.kind === 'deploy');
  const undeployFirst = firstDeploy >= 0 && steps.findIndex((s) => s.kind === 'undeploy') < firstDeploy;
  if (undeployFirst && steps.some((s) => s.kind === 'undeploy')) {
    return { peak: maxGpuCounts(gpuCounts(onEndpoint), after), after };
  }
  return { peak: gpuCounts([...onEndpoint, ...deploys]), after };
}

/**
 * The steps that undeploy every model from the endpoint (before `cdktf destroy` deletes it: Vertex
 * refuses to delete an endpoint that still has deployed models), so nothing keeps holding GPU
 * quota. The traffic split is emptied first, since a model with traffic cannot be undeployed.
 * @param endpoint the endpoint as read; undefined when it is gone already
 */
export function planTeardown(endpoint: LiveEndpoint | undefined): TeardownStep[] {
  const ids = (endpoint?.deployedModels ?? []).map((dm) => dm.id);
  if (ids.length === 0) return [];
  const was = nonZeroTraffic(endpoint?.trafficSplit);
  const clearTraffic: SetTrafficStep[] = Object.keys(was).length > 0 ? [{ kind: 'set-traffic', split: {}, was }] : [];
  return [...clearTraffic, { kind: 'undeploy', deployedModelIds: ids }];
}

/** Whether `version` was uploaded from the spec `marker` names. */
export function isUploadedFrom(
  version: LiveModelVersion | undefined,
  marker: string,
): version is LiveModelVersion & { versionId: string } {
  return version?.versionId !== undefined && (version.versionDescription ?? '').includes(marker);
}

/** `projects/<project>/locations/<region>`: the parent of models and endpoints. */
export function locationPath(ref: EndpointRef): string {
  return `projects/${ref.project}/locations/${ref.region}`;
}

export function endpointPath(ref: EndpointRef): string {
  return `${locationPath(ref)}/endpoints/${ref.endpointId}`;
}

export function modelPath(ref: EndpointRef, modelId: string): string {
  return `${locationPath(ref)}/models/${modelId}`;
}

/** Text in a model version's description that names the spec it was uploaded from. */
function versionMarker(fingerprint: string): string {
  return `spec ${fingerprint}`;
}

/**
 * Whether replica bounds, autoscaling targets, scale-to-zero periods or container logging differ. The live targets are
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
  // The periods are compared only for a deployment that scales to zero, which is read with v1beta1.
  const samePeriods =
    d.scaleToZeroSpec === undefined ||
    (r.scaleToZeroSpec?.minScaleupPeriod === d.scaleToZeroSpec.minScaleupPeriod &&
      r.scaleToZeroSpec?.idleScaledownPeriod === d.scaleToZeroSpec.idleScaledownPeriod);
  return (
    (r.minReplicaCount ?? 0) !== d.minReplicaCount ||
    r.maxReplicaCount !== d.maxReplicaCount ||
    !sameTargets ||
    !samePeriods ||
    containerLoggingDisabled(live) !== d.disableContainerLogging
  );
}

/** A v1 read says `disableContainerLogging`, a v1beta1 read `enableContainerLogging`; absent is Vertex's default, logging on. */
function containerLoggingDisabled(live: LiveDeployedModel): boolean {
  if (live.disableContainerLogging !== undefined) return live.disableContainerLogging;
  return live.enableContainerLogging === undefined ? false : !live.enableContainerLogging;
}

function sameTraffic(a: Record<string, number>, b: Record<string, number>): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
