import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { runDeployer } from '../../deployer/cli';
import { DRIFT_LABEL, type ManifestInput, STATE_LABEL } from '../../contract/manifest';
import { liveFingerprint } from '../../contract/live-state';
import { FakeVertex } from './fake-vertex';
import {
  CANARY,
  CPU,
  DUTY,
  ENDPOINT,
  ENDPOINT_ID,
  MODEL,
  PROJECT,
  REGION,
  REPUSHED,
  V3_ONLY,
  deployerTestEnv,
  deployment,
} from './manifests';

let fake: FakeVertex;
let baseUrl: string;
let lines: string[];

beforeEach(async () => {
  fake = new FakeVertex();
  baseUrl = await fake.start();
  fake.addEndpoint(PROJECT, REGION, ENDPOINT_ID);
  lines = [];
});
afterEach(async () => {
  jest.restoreAllMocks();
  await fake.stop();
});

async function run(
  command: 'apply' | 'destroy',
  manifest: ManifestInput,
  env: NodeJS.ProcessEnv = {},
  options: Parameters<typeof runDeployer>[2] = {},
): Promise<number> {
  return runDeployer(
    [command],
    { ...deployerTestEnv(manifest, baseUrl), ...env },
    { log: (l) => lines.push(l), random: () => 0.5, ...options },
  );
}

/** The canary manifest with one deployment's autoscaling targets replaced. */
function withTargets(specs: { metricName: string; target: number }[]): ManifestInput {
  return {
    ...CANARY,
    deployments: {
      ...CANARY.deployments,
      '1000000003': { ...deployment('yolo26n@v3', 90), autoscalingMetricSpecs: specs },
    },
  };
}

/** Captures console.error for the rest of the test. */
function errors(): jest.SpyInstance {
  return jest.spyOn(console, 'error').mockImplementation(() => undefined);
}

function endpoint() {
  return fake.endpoints.get(ENDPOINT)!;
}

describe('deployer apply', () => {
  test('first deploy uploads each version, deploys each model, then sets the traffic split', async () => {
    // WHEN
    const code = await run('apply', CANARY);
    // THEN
    expect(code).toBe(0);
    expect(fake.models.get(MODEL)!.map((v) => v.versionAliases)).toEqual([['default', 'v3'], ['v4']]);
    expect(endpoint().deployedModels.map((d) => [d.id, d.modelVersionId])).toEqual([
      ['1000000003', '1'],
      ['1000000004', '2'],
    ]);
    expect(endpoint().trafficSplit).toEqual({ '1000000003': 90, '1000000004': 10 });
    const mutations = fake.mutations();
    expect(mutations.indexOf(`PATCH ${ENDPOINT}`)).toBeGreaterThan(
      mutations.lastIndexOf(`POST ${ENDPOINT}:deployModel`),
    );
    expect(endpoint().labels[STATE_LABEL]).toBe(liveFingerprint(endpoint()));
  });

  test('re-applying the same manifest changes nothing', async () => {
    // GIVEN
    expect(await run('apply', CANARY)).toBe(0);
    fake.requests.length = 0;
    // WHEN
    const code = await run('apply', CANARY);
    // THEN
    expect(code).toBe(0);
    expect(fake.mutations()).toEqual([]);
  });

  test('an immutable change deploys the new model first, then moves traffic, then undeploys the old one', async () => {
    // GIVEN v3 serves everything
    expect(await run('apply', V3_ONLY)).toBe(0);
    fake.requests.length = 0;
    // WHEN the machine type changes, which gives the deployment a new id
    const after: ManifestInput = {
      ...V3_ONLY,
      deployments: { '2000000003': deployment('yolo26n@v3', 100, { machineType: 'a2-highgpu-2g' }) },
    };
    expect(await run('apply', after)).toBe(0);
    // THEN
    expect(fake.mutations().filter((r) => !r.includes('labels'))).toEqual([
      `POST ${ENDPOINT}:deployModel`,
      `PATCH ${ENDPOINT}`,
      `POST ${ENDPOINT}:undeployModel`,
      `PATCH ${ENDPOINT}`, // the state label
    ]);
    expect(endpoint().deployedModels.map((d) => d.id)).toEqual(['2000000003']);
    expect(endpoint().trafficSplit).toEqual({ '2000000003': 100 });
  });

  test('replica bounds change in place with mutateDeployedModel', async () => {
    // GIVEN
    expect(await run('apply', CANARY)).toBe(0);
    fake.requests.length = 0;
    // WHEN
    const resized: ManifestInput = {
      ...CANARY,
      deployments: {
        ...CANARY.deployments,
        '1000000003': deployment('yolo26n@v3', 90, { minReplicaCount: 2, maxReplicaCount: 8 }),
      },
    };
    expect(await run('apply', resized)).toBe(0);
    // THEN
    expect(fake.mutations()).toEqual([`POST ${ENDPOINT}:mutateDeployedModel`, `PATCH ${ENDPOINT}`]);
    expect(endpoint().deployedModels[0].dedicatedResources).toMatchObject({ minReplicaCount: 2, maxReplicaCount: 8 });
  });

  test('a failed deploy keeps the traffic where it was and undeploys what it half-created', async () => {
    // GIVEN v3 serves everything
    expect(await run('apply', V3_ONLY)).toBe(0);
    fake.failDeployOf('1000000004', 'Model server never became ready');
    const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    // WHEN the canary fails to start
    const code = await run('apply', CANARY);
    // THEN
    expect(code).toBe(1);
    expect(errors.mock.calls[0][0]).toMatch(
      /traffic split was left as it was; deployed model\(s\) this run started \(1000000004\) were undeployed again\. Reason: .*Model server never became ready/,
    );
    expect(endpoint().trafficSplit).toEqual({ '1000000003': 100 });
    expect(endpoint().deployedModels.map((d) => d.id)).toEqual(['1000000003']);
    errors.mockRestore();
  });

  test('a failed deploy that Vertex never created is reported as such, not as undeployed again', async () => {
    // GIVEN v3 serves everything, and the canary's deployment will fail without ever appearing on the endpoint
    expect(await run('apply', V3_ONLY)).toBe(0);
    fake.failDeployOf('1000000004', 'No GPU capacity in the zone', { neverAppears: true });
    const err = errors();
    // WHEN the canary is rolled out
    const code = await run('apply', CANARY);
    // THEN the run fails, its undeploy found nothing, and the message says so instead of claiming an undeploy
    expect(code).toBe(1);
    expect(fake.requests).toContain(`POST ${ENDPOINT}:undeployModel`);
    expect(err.mock.calls[0][0]).toMatch(
      /traffic split was left as it was; deployed model\(s\) 1000000004 never appeared on the endpoint \(Vertex did not create them, or removed them when their deployment failed\), so there was nothing to undeploy\. Reason: .*No GPU capacity in the zone/,
    );
    expect(err.mock.calls[0][0]).not.toMatch(/undeployed again/);
    expect(endpoint().trafficSplit).toEqual({ '1000000003': 100 });
  });

  test('a run that failed half way resumes without uploading again', async () => {
    // GIVEN the first run uploaded both versions, then the canary failed to deploy
    fake.failDeployOf('1000000004', 'quota exceeded');
    jest.spyOn(console, 'error').mockImplementation(() => undefined);
    expect(await run('apply', CANARY)).toBe(1);
    fake.clearDeployFailures();
    fake.requests.length = 0;
    // WHEN
    expect(await run('apply', CANARY)).toBe(0);
    // THEN
    expect(fake.mutations().filter((r) => r.endsWith(':upload'))).toEqual([]);
    expect(endpoint().trafficSplit).toEqual({ '1000000003': 90, '1000000004': 10 });
  });

  test('a run killed after a deployment resumes from there', async () => {
    // GIVEN a run was killed after v3 was deployed, before the traffic split
    await run('apply', { ...CANARY, deployments: { '1000000003': deployment('yolo26n@v3', 100) } });
    endpoint().trafficSplit = {};
    fake.requests.length = 0;
    // WHEN
    expect(await run('apply', CANARY)).toBe(0);
    // THEN v3 is not deployed twice
    expect(fake.mutations().filter((r) => r.endsWith(':deployModel'))).toEqual([`POST ${ENDPOINT}:deployModel`]);
    expect(
      endpoint()
        .deployedModels.map((d) => d.id)
        .sort(),
    ).toEqual(['1000000003', '1000000004']);
  });

  test('429 and 503 answers are retried with backoff', async () => {
    // GIVEN
    fake.injectStatuses(429, 503, 503);
    // WHEN
    const code = await run('apply', CANARY);
    // THEN
    expect(code).toBe(0);
    expect(lines.filter((l) => /retry \d\/6/.test(l))).toHaveLength(3);
    expect(endpoint().trafficSplit).toEqual({ '1000000003': 90, '1000000004': 10 });
  });

  test('a 4xx that will not change is not retried', async () => {
    // GIVEN
    fake.injectStatuses(403);
    const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    // WHEN
    const code = await run('apply', CANARY);
    // THEN
    expect(code).toBe(1);
    expect(fake.requests).toHaveLength(1);
    expect(errors.mock.calls[0][0]).toMatch(/HTTP 403/);
    errors.mockRestore();
  });

  test('a hand-made change is put back and remembered, so the next plan is stable', async () => {
    // GIVEN someone moved all traffic to the canary in the console
    expect(await run('apply', CANARY)).toBe(0);
    endpoint().trafficSplit = { '1000000003': 0, '1000000004': 100 };
    const drifted = liveFingerprint(endpoint());
    // WHEN
    expect(await run('apply', CANARY)).toBe(0);
    // THEN
    expect(endpoint().trafficSplit).toEqual({ '1000000003': 90, '1000000004': 10 });
    expect(endpoint().labels[DRIFT_LABEL]).toBe(drifted);
    expect(lines.some((l) => /changed outside Terraform/.test(l))).toBe(true);
  });

  test("removing an autoscaling target reaches the live deployment; Vertex's echoed defaults cause no churn", async () => {
    // GIVEN v3 scales on GPU duty cycle 70 and CPU 80
    expect(
      await run(
        'apply',
        withTargets([
          { metricName: DUTY, target: 70 },
          { metricName: CPU, target: 80 },
        ]),
      ),
    ).toBe(0);
    const v3 = () => endpoint().deployedModels.find((d) => d.id === '1000000003')!;
    fake.requests.length = 0;
    // WHEN the CPU target is removed from stacks.yaml
    expect(await run('apply', withTargets([{ metricName: DUTY, target: 70 }]))).toBe(0);
    // THEN the whole declared list replaces the live one
    expect(fake.mutations()).toContain(`POST ${ENDPOINT}:mutateDeployedModel`);
    expect(v3().dedicatedResources.autoscalingMetricSpecs).toEqual([{ metricName: DUTY, target: 70 }]);
    // WHEN Vertex reports its default CPU target next to the declared one
    v3().dedicatedResources.autoscalingMetricSpecs = [
      { metricName: DUTY, target: 70 },
      { metricName: CPU, target: 60 },
    ];
    fake.requests.length = 0;
    expect(await run('apply', withTargets([{ metricName: DUTY, target: 70 }]))).toBe(0);
    // THEN that is not a difference
    expect(fake.mutations().filter((r) => r.endsWith(':mutateDeployedModel'))).toEqual([]);
    // WHEN every target is removed
    expect(await run('apply', withTargets([]))).toBe(0);
    // THEN Vertex is back on its defaults (an empty list)
    expect(v3().dedicatedResources.autoscalingMetricSpecs).toEqual([]);
  });

  test('a deployment that does not finish in time is cancelled, then cleaned up, and traffic stays', async () => {
    // GIVEN v3 serves everything, and v4's deployment will hang
    expect(await run('apply', V3_ONLY)).toBe(0);
    fake.hangDeployOf('1000000004');
    const err = errors();
    // WHEN the canary's operation runs past the operation timeout
    const code = await run('apply', { ...CANARY, operationTimeoutSeconds: 1 });
    // THEN the operation was cancelled before the cleanup, and nothing half-deployed is left
    expect(code).toBe(1);
    const cancel = fake.requests.findIndex((r) => /^POST .*\/operations\/\d+:cancel$/.test(r));
    expect(cancel).toBeGreaterThan(fake.requests.indexOf(`POST ${ENDPOINT}:deployModel`));
    expect(err.mock.calls[0][0]).toMatch(/still not done after 1s; operation .* was cancelled/);
    expect(endpoint().deployedModels.map((d) => d.id)).toEqual(['1000000003']);
    expect(endpoint().trafficSplit).toEqual({ '1000000003': 100 });
  });

  test('a deployModel whose answer was lost is not sent again, and the rollout completes', async () => {
    // GIVEN Vertex carries out the canary's deployModel and the first upload, but their answers are lost
    fake.loseAnswerOf(':deployModel');
    fake.loseAnswerOf(':upload');
    // WHEN
    expect(await run('apply', CANARY)).toBe(0);
    // THEN one request each, no second version, no duplicate deployment
    expect(fake.mutations().filter((r) => r.endsWith(':deployModel'))).toHaveLength(2);
    expect(fake.mutations().filter((r) => r.endsWith(':upload'))).toHaveLength(2);
    expect(fake.models.get(MODEL)!.map((v) => v.versionAliases)).toEqual([['default', 'v3'], ['v4']]);
    expect(endpoint().trafficSplit).toEqual({ '1000000003': 90, '1000000004': 10 });
  });

  test('a new image digest under the same tag is a change, refused with nothing changed while its deployed model id is live', async () => {
    // GIVEN the canary serves
    expect(await run('apply', CANARY)).toBe(0);
    const err = errors();
    // WHEN v3's image is pushed again with other bytes (same tag, so the same synth-time fingerprint and deployed model id)
    fake.requests.length = 0;
    // THEN the rollout sees the new digest, stops before uploading, and says why and what to do
    expect(await run('apply', REPUSHED)).toBe(1);
    expect(err.mock.calls[0][0]).toMatch(
      /yolo26n@v3 changed \(spec [0-9a-f]{16}; the image digest is sha256:def\) but keeps its deployed model id 1000000003, which serves version 1.*nothing was uploaded or changed\. Give the model a new `version`/,
    );
    expect(fake.mutations()).toEqual([]);
    expect(endpoint().trafficSplit).toEqual({ '1000000003': 90, '1000000004': 10 });
    // WHEN the new image gets a new version alias (what the message says), as a 0 % canary
    const v5: ManifestInput = {
      ...CANARY,
      models: { ...CANARY.models, 'yolo26n@v5': { ...REPUSHED.models!['yolo26n@v3'], versionAlias: 'v5' } },
      deployments: { ...CANARY.deployments, '1000000005': deployment('yolo26n@v5', 0) },
    };
    // THEN it is uploaded and deployed next to the others
    expect(await run('apply', v5)).toBe(0);
    expect(fake.models.get(MODEL)!.find((v) => v.versionAliases.includes('v5'))!.containerSpec!.imageUri).toMatch(
      /sha256:def$/,
    );
  });

  test('a deployModel answered ALREADY_EXISTS waits for that deployment instead of failing', async () => {
    // GIVEN an earlier request for the canary's id (a lost answer, another run) is under way when this run asks
    fake.alreadyDeploying('1000000004');
    // WHEN
    expect(await run('apply', CANARY)).toBe(0);
    // THEN
    expect(lines).toContain('  1000000004 already exists on the endpoint or is being deployed; waiting for it');
    expect(endpoint().deployedModels.filter((d) => d.id === '1000000004')).toHaveLength(1);
    expect(endpoint().trafficSplit).toEqual({ '1000000003': 90, '1000000004': 10 });
  });

  test('Application Default Credentials send their quota project header', async () => {
    // GIVEN user credentials with a quota project, and no GOOGLE_OAUTH_ACCESS_TOKEN
    const auth = {
      getRequestHeaders: async () =>
        new Headers({ authorization: 'Bearer fake-token', 'x-goog-user-project': 'acme-billing' }),
    };
    // WHEN
    expect(await run('apply', CANARY, { GOOGLE_OAUTH_ACCESS_TOKEN: undefined }, { auth })).toBe(0);
    // THEN every request carried it
    expect(new Set(fake.quotaProjects)).toEqual(new Set(['acme-billing']));
  });

  test("VERTEX_API_ENDPOINT accepts the google provider's form with a trailing /v1/", async () => {
    expect(await run('apply', CANARY, { VERTEX_API_ENDPOINT: `${baseUrl}/v1/` })).toBe(0);
    expect(endpoint().trafficSplit).toEqual({ '1000000003': 90, '1000000004': 10 });
  });

  test('a private-psc endpoint: the service attachment is printed once a model is deployed', async () => {
    // GIVEN an endpoint behind Private Service Connect
    fake.endpoints.get(ENDPOINT)!.privateServiceConnect = true;
    // WHEN the first rollout deploys to it
    expect(await run('apply', CANARY)).toBe(0);
    // THEN the consumers' forwarding-rule target is in the output, as Vertex reports it
    expect(lines).toContain(
      `Private Service Connect service attachment (the target of consumers' forwarding rules): projects/tenant-${ENDPOINT_ID}/regions/${REGION}/serviceAttachments/sa-${ENDPOINT_ID}`,
    );
  });

  test('a public endpoint prints no service attachment', async () => {
    // WHEN
    expect(await run('apply', CANARY)).toBe(0);
    // THEN
    expect(lines.some((l) => l.includes('service attachment'))).toBe(false);
  });

  test('progress lines say what is awaited', async () => {
    await run('apply', CANARY);
    expect(
      lines.some((l) =>
        /waiting: deploy yolo26n@v4 as deployed model 1000000004 on a2-highgpu-1g \+ 1x NVIDIA_TESLA_A100, 1\.\.2 replicas \(\d+s so far\)/.test(
          l,
        ),
      ),
    ).toBe(true);
  });
});

/** Vertex's answer when a region's A100 serving quota is used up (HTTP 429 with QuotaFailure and ErrorInfo details). */
const A100_QUOTA_EXHAUSTED = {
  code: 429,
  status: 'RESOURCE_EXHAUSTED',
  message:
    'The following quota metrics exceed quota limits: aiplatform.googleapis.com/custom_model_serving_nvidia_a100_gpus',
  details: [
    {
      '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
      violations: [
        {
          subject: 'project:acme-ml-prod',
          quotaMetric: 'aiplatform.googleapis.com/custom_model_serving_nvidia_a100_gpus',
        },
      ],
    },
    {
      '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
      reason: 'RESOURCE_EXHAUSTED',
      domain: 'googleapis.com',
      metadata: {
        quota_metric: 'aiplatform.googleapis.com/custom_model_serving_nvidia_a100_gpus',
        quota_location: 'europe-west4',
        quota_limit_value: '4',
      },
    },
  ],
};

/** Vertex's answer to a deployModel naming a service account it may not act as (yet). */
const PERMISSION_DENIED = {
  code: 403,
  status: 'PERMISSION_DENIED',
  message:
    "Permission 'iam.serviceAccounts.actAs' denied on service account vertex-serving@acme-ml-prod.iam.gserviceaccount.com",
};

describe('deployer apply: GPU quota', () => {
  test('the first lines say how many GPUs the rollout holds at its peak and which quota they count against', async () => {
    // GIVEN v3 serves on 1..2 A100 replicas
    expect(await run('apply', V3_ONLY)).toBe(0);
    lines = [];
    // WHEN v3 is replaced blue/green by a new machine type (a new deployment next to the old one)
    const after: ManifestInput = {
      ...V3_ONLY,
      deployments: { '2000000003': deployment('yolo26n@v3', 100, { machineType: 'a2-highgpu-2g' }) },
    };
    expect(await run('apply', after)).toBe(0);
    // THEN before any change it printed old + new at their max replicas, and what stays
    expect(lines[1]).toBe(
      "GPUs in europe-west4 at the rollout's peak: 4x NVIDIA_TESLA_A100; once done: 2x NVIDIA_TESLA_A100 (quota: aiplatform.googleapis.com/custom_model_serving_nvidia_a100_gpus)",
    );
  });

  test('a quota 429 stops after at most one retry, names the quota, the region and the peak need, and exits 3', async () => {
    // GIVEN every deployModel is refused for quota
    fake.refuse(':deployModel', 10, A100_QUOTA_EXHAUSTED);
    const err = errors();
    // WHEN
    const code = await run('apply', CANARY);
    // THEN
    expect(code).toBe(3);
    expect(fake.requests.filter((r) => r.endsWith(':deployModel'))).toHaveLength(2);
    expect(err.mock.calls[0][0]).toMatch(
      /Quota aiplatform\.googleapis\.com\/custom_model_serving_nvidia_a100_gpus in europe-west4 \(limit 4\) is too small: this rollout needs 4x NVIDIA_TESLA_A100 at its peak/,
    );
    expect(endpoint().deployedModels).toEqual([]);
  });

  test('a deployment whose operation ends RESOURCE_EXHAUSTED for quota is a quota failure too', async () => {
    // GIVEN the canary's operation fails for quota after it started
    expect(await run('apply', V3_ONLY)).toBe(0);
    fake.failDeployOf('1000000004', A100_QUOTA_EXHAUSTED.message, { code: 8 });
    const err = errors();
    // WHEN
    const code = await run('apply', CANARY);
    // THEN
    expect(code).toBe(3);
    expect(err.mock.calls[0][0]).toMatch(
      /Quota aiplatform\.googleapis\.com\/custom_model_serving_nvidia_a100_gpus in europe-west4 is too small/,
    );
    expect(endpoint().trafficSplit).toEqual({ '1000000003': 100 });
  });

  test('a rate limit 429 that names no quota is still retried with backoff', async () => {
    // GIVEN three rate-limited answers to deployModel
    fake.refuse(':deployModel', 3, { code: 429, status: 'RESOURCE_EXHAUSTED', message: 'Too many requests' });
    // WHEN
    const code = await run('apply', CANARY);
    // THEN
    expect(code).toBe(0);
    expect(lines.filter((l) => /deployModel: HTTP 429; retry \d\/6/.test(l))).toHaveLength(3);
  });
});

describe('deployer apply: first deployment on a new project', () => {
  test('PERMISSION_DENIED on the new serving account is retried while IAM propagates, saying why, and the rollout completes', async () => {
    // GIVEN Vertex refuses the first two deployModel requests while the serving account's grants propagate
    fake.refuse(':deployModel', 2, PERMISSION_DENIED);
    // WHEN
    const code = await run('apply', CANARY, { DEPLOYER_IAM_RETRY_SECONDS: '0.01' });
    // THEN
    expect(code).toBe(0);
    expect(endpoint().trafficSplit).toEqual({ '1000000003': 90, '1000000004': 10 });
    const waits = lines.filter((l) => /PERMISSION_DENIED; IAM changes take up to 7 minutes to propagate/.test(l));
    expect(waits).toHaveLength(2);
    expect(waits[0]).toMatch(
      /the serving account vertex-serving@acme-ml-prod\.iam\.gserviceaccount\.com may be new: retrying in 0s \(0s of at most 7m00s\)/,
    );
    expect(waits[0]).toContain('https://cloud.google.com/iam/docs/access-change-propagation');
  });

  test("an upload whose artifact copy is refused (operation PERMISSION_DENIED) is retried while the service agent's grant propagates", async () => {
    // GIVEN the first upload's operation ends with code 7: the new bucket grant has not reached the agent
    fake.refuseArtifactCopy(1, { code: 7, message: 'Permission denied on the artifacts bucket' });
    // WHEN
    const code = await run('apply', CANARY, { DEPLOYER_IAM_RETRY_SECONDS: '0.01' });
    // THEN the upload is sent again and the rollout completes, having said why it waited
    expect(code).toBe(0);
    expect(fake.requests.filter((r) => r.endsWith('models:upload')).length).toBe(3);
    expect(
      lines.some((l) =>
        /PERMISSION_DENIED; IAM changes take up to 7 minutes to propagate \(.*\) and the Vertex AI service agent's read grant on gs:\/\//.test(
          l,
        ),
      ),
    ).toBe(true);
  });

  test('PERMISSION_DENIED that outlasts the wait fails, saying it is a missing permission', async () => {
    // GIVEN Vertex keeps refusing
    fake.refuse(':deployModel', 1000, PERMISSION_DENIED);
    const err = errors();
    // WHEN the run may wait 0.05 s in all, retrying every 0.01 s
    const code = await run('apply', CANARY, { DEPLOYER_IAM_WAIT_SECONDS: '0.05', DEPLOYER_IAM_RETRY_SECONDS: '0.01' });
    // THEN
    expect(code).toBe(1);
    expect(err.mock.calls[0][0]).toMatch(
      /HTTP 403 PERMISSION_DENIED.*still refused after waiting \d+s for IAM propagation.*a permission is missing rather than propagating/,
    );
    expect(fake.requests.filter((r) => r.endsWith(':deployModel')).length).toBeLessThan(10);
  });

  test('PERMISSION_DENIED on a call that does not involve new grants is not retried', async () => {
    // GIVEN the endpoint cannot be read
    fake.refuse(`endpoints/${ENDPOINT_ID}`, 1, PERMISSION_DENIED);
    const err = errors();
    // WHEN
    const code = await run('apply', CANARY, { DEPLOYER_IAM_RETRY_SECONDS: '0.01' });
    // THEN
    expect(code).toBe(1);
    expect(fake.requests).toHaveLength(1);
    expect(err.mock.calls[0][0]).toMatch(/HTTP 403 PERMISSION_DENIED/);
  });
});

describe('deployer destroy', () => {
  test('undeploys every model so the endpoint can be deleted', async () => {
    // GIVEN
    expect(await run('apply', CANARY)).toBe(0);
    // WHEN
    const code = await run('destroy', { endpoint: CANARY.endpoint });
    // THEN
    expect(code).toBe(0);
    expect(endpoint().deployedModels).toEqual([]);
    expect(endpoint().trafficSplit).toEqual({});
  });

  test('says that it empties the traffic split before undeploying', async () => {
    // GIVEN the canary serves with a 90/10 split
    expect(await run('apply', CANARY)).toBe(0);
    lines = [];
    // WHEN the endpoint is torn down
    expect(await run('destroy', { endpoint: CANARY.endpoint })).toBe(0);
    // THEN its first line announces both, with the split it replaces
    expect(lines[0]).toBe(
      `Emptying the traffic split of ${ENDPOINT} (was 1000000003=90%, 1000000004=10%), then undeploying 2 model(s): 1000000003, 1000000004`,
    );
  });

  test('an endpoint without traffic is said to need no traffic change', async () => {
    // GIVEN a model on the endpoint that takes no traffic
    expect(await run('apply', CANARY)).toBe(0);
    endpoint().trafficSplit = {};
    lines = [];
    // WHEN the endpoint is torn down
    expect(await run('destroy', { endpoint: CANARY.endpoint })).toBe(0);
    // THEN the line says the split is already empty
    expect(lines[0]).toBe(
      `Undeploying 2 model(s) from ${ENDPOINT} (the traffic split is already empty): 1000000003, 1000000004`,
    );
  });

  test('an endpoint already gone is not an error', async () => {
    fake.endpoints.clear();
    expect(await run('destroy', { endpoint: CANARY.endpoint })).toBe(0);
  });
});

describe('deployer settings', () => {
  test('a missing manifest is a clear error', async () => {
    const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    expect(await runDeployer(['apply'], {})).toBe(2);
    expect(errors.mock.calls[0][0]).toMatch(/DEPLOYER_MANIFEST is not set/);
    errors.mockRestore();
  });
});

describe('the command Terraform runs', () => {
  test('runs the TypeScript CLI from the stack directory by its relative path, with no build step', async () => {
    // GIVEN a directory where Terraform runs a stack (cdktf.out/stacks/<stack>) and the command the plan holds
    const stacksDir = path.join(__dirname, '..', '..', 'cdktf.out', 'stacks');
    mkdirSync(stacksDir, { recursive: true });
    const stackDir = mkdtempSync(path.join(stacksDir, 'jest-'));
    try {
      // WHEN
      const output = await new Promise<string>((resolve, reject) =>
        execFile(
          '/bin/sh',
          ['-c', 'node -r ts-node/register ../../../deployer/cli.ts apply'],
          {
            cwd: stackDir,
            env: {
              ...process.env,
              TS_NODE_SWC: 'true',
              TS_NODE_TRANSPILE_ONLY: 'true',
              DEPLOYER_MANIFEST: JSON.stringify(CANARY),
              VERTEX_API_ENDPOINT: baseUrl,
              GOOGLE_OAUTH_ACCESS_TOKEN: 'fake-token',
              DEPLOYER_POLL_SECONDS: '0.001',
            },
          },
          (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
        ),
      );
      // THEN
      expect(output).toMatch(/\[deployer \+\d+s\] Rollout to .* done in/);
      expect(endpoint().trafficSplit).toEqual({ '1000000003': 90, '1000000004': 10 });
    } finally {
      rmSync(stackDir, { recursive: true, force: true });
    }
  }, 20_000);
});

describe('the live-state fingerprint', () => {
  test('is the format the plan-time HCL expression builds: fields joined by ":", sorted entries joined by ","', () => {
    // GIVEN
    const live = {
      deployedModels: [
        {
          id: '2',
          model: 'projects/1/locations/r/models/m',
          modelVersionId: '4',
          dedicatedResources: { minReplicaCount: 1, maxReplicaCount: 2 },
        },
        {
          id: '1',
          model: 'projects/1/locations/r/models/m',
          modelVersionId: '3',
          dedicatedResources: { minReplicaCount: 2, maxReplicaCount: 8 },
        },
      ],
      trafficSplit: { '1': 90, '2': 10 },
    };
    // THEN
    const expected = createHash('sha256')
      .update('1:projects/1/locations/r/models/m:3:2:8:90,2:projects/1/locations/r/models/m:4:1:2:10')
      .digest('hex')
      .slice(0, 16);
    expect(liveFingerprint(live)).toBe(expected);
    expect(liveFingerprint({})).toBe('e3b0c44298fc1c14');
  });
});
