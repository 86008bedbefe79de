import { type LiveEndpoint, liveFingerprint } from '../../contract/live-state';
import {
  type Manifest,
  type ManifestInput,
  STATE_LABEL,
  manifestSchema,
  servedFingerprint,
} from '../../contract/manifest';
import { blueGreenPeakGpus, gpuCounts, servingQuotaMetric } from '../../contract/gpu-need';
import { type LiveState, type Step, planRollout, planTeardown, rolloutGpuNeed } from '../../deployer/plan';
import { CANARY, CPU, DUTY, MODEL, REPUSHED, V3_ONLY, deployment } from './manifests';

/*
 * The rollout's decisions, without a server: each row gives what the deployer read from Vertex and
 * the manifest, and the steps it plans, in order. The requests those steps make are tested against
 * the fake Vertex in deployer.test.ts.
 */

const parse = (input: ManifestInput): Manifest => manifestSchema.parse(input);

/** Version ids Vertex gave the canary's uploads. */
const UPLOADED = { 'yolo26n@v3': '1', 'yolo26n@v4': '2' };

/**
 * The registry as the deployer reads it for `manifest`'s model versions, after the versions in
 * `uploaded` (model key -> version id) went up from `manifest`'s own specs.
 */
function registry(manifest: ManifestInput, uploaded: Readonly<Record<string, string>>): LiveState['models'] {
  return Object.fromEntries(
    Object.entries(parse(manifest).models).map(([key, spec]) => {
      const exists = Object.keys(uploaded).some((k) => k.startsWith(`${spec.modelId}@`));
      const versionId = uploaded[key];
      const versionDescription = `spec ${servedFingerprint(spec)} (managed by cdktf)`;
      return [key, versionId ? { exists, aliased: { versionId, versionDescription } } : { exists }];
    }),
  );
}

/** The endpoint after a rollout of `manifest` with the version ids `uploaded`, its state label recorded. */
function servedBy(manifest: ManifestInput, uploaded: Readonly<Record<string, string>>): LiveEndpoint {
  const deployments = Object.entries(parse(manifest).deployments);
  const endpoint = {
    deployedModels: deployments.map(([id, d]) => ({
      id,
      model: MODEL,
      modelVersionId: uploaded[d.model],
      disableContainerLogging: d.disableContainerLogging,
      dedicatedResources: {
        machineSpec: d.machineSpec,
        minReplicaCount: d.minReplicaCount,
        maxReplicaCount: d.maxReplicaCount,
        autoscalingMetricSpecs: d.autoscalingMetricSpecs,
      },
    })),
    trafficSplit: Object.fromEntries(deployments.map(([id, d]) => [id, d.trafficPercent])),
  };
  return { ...endpoint, labels: { [STATE_LABEL]: liveFingerprint(endpoint) } };
}

/** The canary as served, both versions uploaded. */
const CANARY_LIVE: LiveState = { endpoint: servedBy(CANARY, UPLOADED), models: registry(CANARY, UPLOADED) };

/** The canary manifest with v3's deployment replaced. */
function withV3(overrides: Partial<ReturnType<typeof deployment>>): ManifestInput {
  return {
    ...CANARY,
    deployments: { ...CANARY.deployments, '1000000003': { ...deployment('yolo26n@v3', 90), ...overrides } },
  };
}

/** The canary's live v3 with `change` applied, as if made in the console. */
function withLiveV3(change: (dm: NonNullable<LiveEndpoint['deployedModels']>[number]) => object): LiveState {
  const models = CANARY_LIVE.endpoint.deployedModels ?? [];
  return {
    ...CANARY_LIVE,
    endpoint: {
      ...CANARY_LIVE.endpoint,
      deployedModels: models.map((dm) => (dm.id === '1000000003' ? { ...dm, ...change(dm) } : dm)),
    },
  };
}

/** The endpoint as `endpoint`, its state label left from the canary rollout: a hand-made change. */
function handChanged(endpoint: Omit<LiveEndpoint, 'labels'>): LiveState {
  return { ...CANARY_LIVE, endpoint: { ...endpoint, labels: CANARY_LIVE.endpoint.labels } };
}

/** One line a step, with what each row is about. */
function brief(step: Step): string {
  switch (step.kind) {
    case 'upload':
      return `upload ${step.model} as a new ${step.underExistingModel ? 'version of its model' : 'model'}${step.movesAlias ? ', moving its alias' : ''}`;
    case 'deploy':
      return `deploy ${step.deployedModelId} serving ${'existing' in step.version ? `version ${step.version.existing.split('@')[1]}` : `the upload of ${step.version.uploadedFor}`}`;
    case 'mutate': {
      const targets = step.autoscalingMetricSpecs.map(
        (s) => `${s.metricName.split('/').slice(-2).join('/')}=${s.target}`,
      );
      return `mutate ${step.deployedModelId} to ${step.minReplicaCount}..${step.maxReplicaCount} replicas, targets ${targets.join(', ') || 'none'}`;
    }
    case 'set-traffic':
      return `set traffic ${percentages(step.split)} (was ${percentages(step.was)})`;
    case 'undeploy':
      return `undeploy ${step.deployedModelIds.join(', ')}`;
    case 'record-state':
      return step.drift
        ? `record state, noting drift ${step.drift.seen} (expected ${step.drift.expected})`
        : 'record state';
  }
}

function percentages(split: Readonly<Record<string, number>>): string {
  return (
    Object.entries(split)
      .map(([id, pct]) => `${id}=${pct}%`)
      .join(', ') || 'none'
  );
}

interface Row {
  readonly name: string;
  readonly live: LiveState;
  readonly manifest: ManifestInput;
  readonly steps: readonly string[];
}

const DRIFTED_TRAFFIC = { ...CANARY_LIVE.endpoint, trafficSplit: { '1000000003': 0, '1000000004': 100 } };
const CANARY_DEPLOYED = CANARY_LIVE.endpoint.deployedModels ?? [];
// Vertex undeploys only a model without traffic, so the console moved it to v3 first.
const V4_UNDEPLOYED = {
  deployedModels: CANARY_DEPLOYED.filter((dm) => dm.id !== '1000000004'),
  trafficSplit: { '1000000003': 100 },
};
const STRANGER = { ...CANARY_DEPLOYED[0], id: '1999999999' };
const WITH_STRANGER = { ...CANARY_LIVE.endpoint, deployedModels: [...CANARY_DEPLOYED, STRANGER] };
const RECORDED = CANARY_LIVE.endpoint.labels![STATE_LABEL];

const ROWS: readonly Row[] = [
  {
    // GIVEN an endpoint Terraform just created, and no yolo26n model in the registry
    // WHEN the canary is applied
    // THEN the first upload creates the model, the second adds a version; both are deployed, and only then the split is set
    name: 'first apply on an empty endpoint',
    live: { endpoint: {}, models: registry(CANARY, {}) },
    manifest: CANARY,
    steps: [
      'upload yolo26n@v3 as a new model',
      'upload yolo26n@v4 as a new version of its model',
      'deploy 1000000003 serving the upload of yolo26n@v3',
      'deploy 1000000004 serving the upload of yolo26n@v4',
      'set traffic 1000000003=90%, 1000000004=10% (was none)',
      'record state',
    ],
  },
  {
    // GIVEN the endpoint serves the canary, and its label records that
    // WHEN the same manifest is applied again
    // THEN there is nothing to do, not even a label to write
    name: 're-apply with nothing to do',
    live: CANARY_LIVE,
    manifest: CANARY,
    steps: [],
  },
  {
    // GIVEN v3 serves all the traffic
    // WHEN v4 is added as a 10 % canary
    // THEN v4 is uploaded next to v3 and deployed before the split moves 10 % to it; v3 stays
    name: 'canary: a new version next to the old one, with a traffic split',
    live: { endpoint: servedBy(V3_ONLY, UPLOADED), models: registry(CANARY, { 'yolo26n@v3': '1' }) },
    manifest: CANARY,
    steps: [
      'upload yolo26n@v4 as a new version of its model',
      'deploy 1000000004 serving the upload of yolo26n@v4',
      'set traffic 1000000003=90%, 1000000004=10% (was 1000000003=100%)',
      'record state',
    ],
  },
  {
    // GIVEN the canary serves 90/10
    // WHEN v4 is promoted to all the traffic and v3 dropped from the manifest
    // THEN the traffic moves to v4 first, and v3 is undeployed after it
    name: 'promote: the old version is undeployed after the traffic moves',
    live: CANARY_LIVE,
    manifest: {
      ...CANARY,
      models: { 'yolo26n@v4': CANARY.models!['yolo26n@v4'] },
      deployments: { '1000000004': deployment('yolo26n@v4', 100) },
    },
    steps: ['set traffic 1000000004=100% (was 1000000003=90%, 1000000004=10%)', 'undeploy 1000000003', 'record state'],
  },
  {
    // GIVEN the canary serves
    // WHEN v3's replica bounds change
    // THEN v3 is mutated in place: no upload, no new deployment, the split untouched
    name: 'replica change in place',
    live: CANARY_LIVE,
    manifest: withV3({ minReplicaCount: 2, maxReplicaCount: 8 }),
    steps: ['mutate 1000000003 to 2..8 replicas, targets accelerator/duty_cycle=60', 'record state'],
  },
  {
    // GIVEN the canary serves, v3 scaling on GPU duty cycle 60
    // WHEN v3 scales on duty cycle 70 and CPU 80 instead
    // THEN v3 is mutated in place with the whole new list of targets
    name: 'autoscaling change in place',
    live: CANARY_LIVE,
    manifest: withV3({
      autoscalingMetricSpecs: [
        { metricName: DUTY, target: 70 },
        { metricName: CPU, target: 80 },
      ],
    }),
    steps: [
      'mutate 1000000003 to 1..2 replicas, targets accelerator/duty_cycle=70, cpu/utilization=80',
      'record state',
    ],
  },
  {
    // GIVEN the canary serves, and Vertex reports its default CPU target of 60 on v3 next to the declared one
    // WHEN the canary is applied again
    // THEN the echoed default is no change
    name: "Vertex's echoed default target is not a change",
    live: withLiveV3((dm) => ({
      dedicatedResources: {
        ...dm.dedicatedResources,
        autoscalingMetricSpecs: [
          { metricName: DUTY, target: 60 },
          { metricName: CPU, target: 60 },
        ],
      },
    })),
    manifest: CANARY,
    steps: [],
  },
  {
    // GIVEN someone moved all the traffic to the canary in the console
    // WHEN the canary is applied
    // THEN the declared split is put back, and the label notes the drift it repaired
    name: 'drift: a hand-made traffic split is put back',
    live: handChanged(DRIFTED_TRAFFIC),
    manifest: CANARY,
    steps: [
      'set traffic 1000000003=90%, 1000000004=10% (was 1000000004=100%)',
      `record state, noting drift ${liveFingerprint(DRIFTED_TRAFFIC)} (expected ${RECORDED})`,
    ],
  },
  {
    // GIVEN someone undeployed the canary in the console, its traffic moved to v3 (its version is still in the registry)
    // WHEN the canary is applied
    // THEN it is deployed again from the version its alias names, without an upload
    name: 'drift: a deployed model undeployed by hand is deployed again',
    live: handChanged(V4_UNDEPLOYED),
    manifest: CANARY,
    steps: [
      'deploy 1000000004 serving version 2',
      'set traffic 1000000003=90%, 1000000004=10% (was 1000000003=100%)',
      `record state, noting drift ${liveFingerprint(V4_UNDEPLOYED)} (expected ${RECORDED})`,
    ],
  },
  {
    // GIVEN someone deployed a model by hand next to the canary, with no traffic
    // WHEN the canary is applied
    // THEN the deployed model the manifest does not declare is undeployed
    name: 'a deployed model not in the manifest is undeployed',
    live: handChanged(WITH_STRANGER),
    manifest: CANARY,
    steps: [
      'undeploy 1999999999',
      `record state, noting drift ${liveFingerprint(WITH_STRANGER)} (expected ${RECORDED})`,
    ],
  },
  {
    // GIVEN v3 serves, and v4's alias names a version uploaded from an older spec of v4 that was never deployed
    // WHEN the canary is applied
    // THEN v4 is uploaded again from its current spec, and the upload moves the alias
    name: 'an alias naming a version of another spec is uploaded again',
    live: {
      endpoint: servedBy(V3_ONLY, UPLOADED),
      models: {
        ...registry(CANARY, UPLOADED),
        'yolo26n@v4': { exists: true, aliased: { versionId: '2', versionDescription: 'spec 0123456789abcdef' } },
      },
    },
    manifest: CANARY,
    steps: [
      'upload yolo26n@v4 as a new version of its model, moving its alias',
      'deploy 1000000004 serving the upload of yolo26n@v4',
      'set traffic 1000000003=90%, 1000000004=10% (was 1000000003=100%)',
      'record state',
    ],
  },
];

describe('planRollout', () => {
  test.each(ROWS)('$name', ({ live, manifest, steps }) => {
    expect(planRollout(parse(manifest), live).map(brief)).toEqual(steps);
  });

  test('the steps are plain data, printable as JSON', () => {
    // GIVEN
    const steps = planRollout(parse(CANARY), { endpoint: {}, models: registry(CANARY, {}) });
    // THEN
    expect(JSON.parse(JSON.stringify(steps))).toEqual(steps);
  });
});

interface Refusal {
  readonly name: string;
  readonly live: LiveState;
  readonly manifest: ManifestInput;
  readonly error: RegExp;
}

const REFUSALS: readonly Refusal[] = [
  {
    // GIVEN the canary serves
    // WHEN v3's image is pushed again under the same tag with other bytes (same deployed model id, new digest)
    // THEN the plan refuses before any step: a deployed model cannot change its version in place
    name: 'a new image digest under a live deployed model id',
    live: CANARY_LIVE,
    manifest: REPUSHED,
    error:
      /yolo26n@v3 changed \(spec [0-9a-f]{16}; the image digest is sha256:def\) but keeps its deployed model id 1000000003, which serves version 1/,
  },
  {
    // GIVEN the canary serves, and someone moved v3's alias to version 5 (of the same spec)
    // WHEN the canary is applied
    // THEN the plan refuses: deployed model 1000000003 cannot switch to version 5 in place
    name: 'an alias moved by hand away from the version its live deployed model serves',
    live: {
      ...CANARY_LIVE,
      models: {
        ...CANARY_LIVE.models,
        'yolo26n@v3': { exists: true, aliased: { ...CANARY_LIVE.models['yolo26n@v3'].aliased, versionId: '5' } },
      },
    },
    manifest: CANARY,
    error:
      /deployed model 1000000003 serves version 1 of yolo26n, but yolo26n@v3 names version 5;.*nothing was changed/,
  },
  {
    // GIVEN an empty endpoint
    // WHEN a deployment names a model version the manifest does not declare
    // THEN the plan refuses before uploading anything
    name: 'a deployment of an undeclared model version',
    live: { endpoint: {}, models: registry(CANARY, {}) },
    manifest: { ...CANARY, deployments: { ...CANARY.deployments, '1000000009': deployment('yolo26n@v9', 0) } },
    error: /deployment 1000000009 refers to model yolo26n@v9, which the manifest does not declare; nothing was changed/,
  },
];

describe('planRollout refuses', () => {
  test.each(REFUSALS)('$name', ({ live, manifest, error }) => {
    expect(() => planRollout(parse(manifest), live)).toThrow(error);
  });
});

interface TeardownRow {
  readonly name: string;
  readonly endpoint: LiveEndpoint | undefined;
  readonly steps: readonly string[];
}

const TEARDOWN_ROWS: readonly TeardownRow[] = [
  {
    // GIVEN the canary serves
    // WHEN the stack is destroyed
    // THEN the traffic split is emptied first (a model with traffic cannot be undeployed), then every model undeployed
    name: 'destroy: traffic off, then everything undeployed',
    endpoint: CANARY_LIVE.endpoint,
    steps: ['set traffic none (was 1000000003=90%, 1000000004=10%)', 'undeploy 1000000003, 1000000004'],
  },
  {
    // GIVEN a rollout was killed after deploying, before it set any traffic
    // WHEN the stack is destroyed
    // THEN there is no split to empty
    name: 'destroy with no traffic set',
    endpoint: { ...CANARY_LIVE.endpoint, trafficSplit: {} },
    steps: ['undeploy 1000000003, 1000000004'],
  },
  {
    // GIVEN an endpoint with nothing deployed
    // WHEN the stack is destroyed
    // THEN there is nothing to do
    name: 'destroy of an empty endpoint',
    endpoint: {},
    steps: [],
  },
  {
    // GIVEN the endpoint is gone already
    // WHEN the stack is destroyed
    // THEN there is nothing to do
    name: 'destroy of an endpoint already gone',
    endpoint: undefined,
    steps: [],
  },
];

describe('planTeardown', () => {
  test.each(TEARDOWN_ROWS)('$name', ({ endpoint, steps }) => {
    expect(planTeardown(endpoint).map(brief)).toEqual(steps);
  });
});

describe('the GPUs a rollout holds (rolloutGpuNeed)', () => {
  test('a blue/green replacement counts the old and the new deployment at their max replicas', () => {
    // GIVEN v3 serves on 1..2 A100 replicas, and the manifest moves it to a new machine (a new deployment id)
    const live: LiveState = { endpoint: servedBy(V3_ONLY, UPLOADED), models: registry(V3_ONLY, UPLOADED) };
    const after = parse({
      ...V3_ONLY,
      deployments: { '2000000003': deployment('yolo26n@v3', 100, { maxReplicaCount: 3 }) },
    });
    // WHEN
    const need = rolloutGpuNeed(after, live, planRollout(after, live));
    // THEN 2 old + 3 new at the peak, 3 once the old one is undeployed
    expect(need).toEqual({ peak: { NVIDIA_TESLA_A100: 5 }, after: { NVIDIA_TESLA_A100: 3 } });
  });

  test('a resize in place counts the larger of the old and new max replicas', () => {
    // GIVEN the canary serves; v3 is resized from 1..2 to 1..6 replicas
    const resized = parse({
      ...CANARY,
      deployments: { ...CANARY.deployments, '1000000003': deployment('yolo26n@v3', 90, { maxReplicaCount: 6 }) },
    });
    // WHEN
    const need = rolloutGpuNeed(resized, CANARY_LIVE, planRollout(resized, CANARY_LIVE));
    // THEN
    expect(need.peak).toEqual({ NVIDIA_TESLA_A100: 8 });
  });
});

describe('GPU counts per quota (contract/gpu-need.ts)', () => {
  test('Spot GPUs count against a quota of their own', () => {
    // GIVEN two L4 deployments, one on Spot VMs
    const l4 = { machineSpec: { acceleratorType: 'NVIDIA_L4', acceleratorCount: 2 }, maxReplicaCount: 3 };
    // THEN
    expect(gpuCounts([l4, { ...l4, spot: true }])).toEqual({ NVIDIA_L4: 6, 'NVIDIA_L4 (spot)': 6 });
  });

  test('the worst case of a rollout is every deployment replaced at once: twice its max replicas x GPUs', () => {
    expect(blueGreenPeakGpus(Object.values(parse(CANARY).deployments))).toEqual({ NVIDIA_TESLA_A100: 8 });
  });

  test.each([
    ['NVIDIA_L4', 'aiplatform.googleapis.com/custom_model_serving_nvidia_l4_gpus'],
    ['NVIDIA_TESLA_A100', 'aiplatform.googleapis.com/custom_model_serving_nvidia_a100_gpus'],
    ['NVIDIA_A100_80GB', 'aiplatform.googleapis.com/custom_model_serving_nvidia_a100_80gb_gpus'],
    ['NVIDIA_TESLA_T4 (spot)', 'aiplatform.googleapis.com/custom_model_serving_preemptible_nvidia_t4_gpus'],
  ])('%s counts against %s', (key, metric) => {
    expect(servingQuotaMetric(key)).toBe(metric);
  });
});
