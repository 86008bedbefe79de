import { runDeployer } from '../../deployer/cli';
import { type ManifestInput, manifestSchema } from '../../contract/manifest';
import { blueGreenPeakGpus, gpuCounts } from '../../contract/gpu-need';
import { type LiveState, planRollout, rolloutGpuNeed } from '../../deployer/plan';
import { FakeVertex } from './fake-vertex';
import {
  ENDPOINT,
  ENDPOINT_ID,
  PROJECT,
  REGION,
  V3_ONLY,
  deployerTestEnv,
  deployment,
  modelVersion,
} from './manifests';

/*
 * Scale to zero and reserved capacity in the deployer: the requests against the strict fake
 * (v1beta1 only for a deployment that scales to zero), and the plan decisions they need.
 */

const STZ_SPEC = { minScaleupPeriod: '900s', idleScaledownPeriod: '1800s' };

/** v3 alone on the endpoint, scaling to zero after 30 idle minutes. */
const SCALES_TO_ZERO: ManifestInput = {
  ...V3_ONLY,
  deployments: {
    '2000000003': { ...deployment('yolo26n@v3', 100, { minReplicaCount: 0 }), scaleToZeroSpec: STZ_SPEC },
  },
};

/** v4 replacing v3, scaling to zero too. */
const V4_SCALES_TO_ZERO: ManifestInput = {
  ...SCALES_TO_ZERO,
  models: { 'yolo26n@v4': modelVersion('v4', '00000000000000a4') },
  deployments: {
    '2000000004': { ...deployment('yolo26n@v4', 100, { minReplicaCount: 0 }), scaleToZeroSpec: STZ_SPEC },
  },
};

/** v3 on a specific reservation. */
const RESERVED: ManifestInput = {
  ...V3_ONLY,
  deployments: {
    '3000000003': {
      ...deployment('yolo26n@v3', 100),
      machineSpec: {
        machineType: 'a2-highgpu-1g',
        acceleratorType: 'NVIDIA_TESLA_A100',
        acceleratorCount: 1,
        reservationAffinity: {
          reservationAffinityType: 'SPECIFIC_RESERVATION',
          key: 'compute.googleapis.com/reservation-name',
          values: ['a100-prod'],
        },
      },
    },
  },
};

let fake: FakeVertex;
let baseUrl: string;
const lines: string[] = [];

beforeEach(async () => {
  fake = new FakeVertex();
  baseUrl = await fake.start();
  fake.addEndpoint(PROJECT, REGION, ENDPOINT_ID);
  lines.length = 0;
});
afterEach(() => fake.stop());

function apply(manifest: ManifestInput): Promise<number> {
  return runDeployer(['apply'], deployerTestEnv(manifest, baseUrl), { log: (l) => lines.push(l), random: () => 0.5 });
}

const onEndpoint = () => fake.endpoints.get(ENDPOINT)!;

describe('scale to zero against the fake Vertex', () => {
  test('a deployment that scales to zero is deployed with v1beta1, with its periods and one replica to wake up to', async () => {
    // WHEN
    expect(await apply(SCALES_TO_ZERO)).toBe(0);
    // THEN
    expect(fake.requests).toContain(`POST v1beta1/${ENDPOINT}:deployModel`);
    expect(onEndpoint().deployedModels[0].dedicatedResources).toMatchObject({
      minReplicaCount: 0,
      initialReplicaCount: 1,
      scaleToZeroSpec: STZ_SPEC,
    });
    expect(onEndpoint().trafficSplit).toEqual({ '2000000003': 100 });
  });

  test('everything else stays on v1: uploads, traffic, labels, and a deployment that keeps its replicas', async () => {
    // WHEN
    expect(await apply(V3_ONLY)).toBe(0);
    // THEN
    expect(fake.requests.filter((r) => r.includes('v1beta1/'))).toEqual([]);
  });

  test('re-applying reads the endpoint with v1beta1, sees the periods, and changes nothing', async () => {
    // GIVEN
    await apply(SCALES_TO_ZERO);
    const before = fake.mutations().length;
    // WHEN
    expect(await apply(SCALES_TO_ZERO)).toBe(0);
    // THEN
    expect(fake.requests).toContain(`GET v1beta1/${ENDPOINT}`);
    expect(fake.mutations()).toHaveLength(before);
  });

  test('changing the idle period mutates in place with v1beta1 (enableContainerLogging, not disableContainerLogging)', async () => {
    // GIVEN
    await apply(SCALES_TO_ZERO);
    const longer: ManifestInput = {
      ...SCALES_TO_ZERO,
      deployments: {
        '2000000003': {
          ...SCALES_TO_ZERO.deployments!['2000000003'],
          scaleToZeroSpec: { ...STZ_SPEC, idleScaledownPeriod: '3600s' },
        },
      },
    };
    // WHEN
    expect(await apply(longer)).toBe(0);
    // THEN
    expect(fake.requests).toContain(`POST v1beta1/${ENDPOINT}:mutateDeployedModel`);
    expect(fake.requests.filter((r) => r.endsWith(':deployModel'))).toHaveLength(1);
    expect(onEndpoint().deployedModels[0].dedicatedResources.scaleToZeroSpec).toEqual({
      ...STZ_SPEC,
      idleScaledownPeriod: '3600s',
    });
  });

  test('replacing a model that scales to zero undeploys it before deploying the new one (one model per endpoint)', async () => {
    // GIVEN v3 scaling to zero
    await apply(SCALES_TO_ZERO);
    const before = fake.mutations().length;
    // WHEN
    expect(await apply(V4_SCALES_TO_ZERO)).toBe(0);
    // THEN traffic is emptied, v3 undeployed, v4 deployed, then given the traffic
    expect(fake.mutations().slice(before, -1)).toEqual([
      expect.stringMatching(/^POST .*models:upload$/),
      `PATCH ${ENDPOINT}`,
      `POST ${ENDPOINT}:undeployModel`,
      `POST v1beta1/${ENDPOINT}:deployModel`,
      `PATCH ${ENDPOINT}`,
    ]);
    expect(onEndpoint().deployedModels.map((dm) => dm.id)).toEqual(['2000000004']);
    expect(onEndpoint().trafficSplit).toEqual({ '2000000004': 100 });
  });

  test('a failed deploy after the old model was undeployed says the endpoint serves nothing', async () => {
    // GIVEN v3 scaling to zero, and v4's deployment failing
    await apply(SCALES_TO_ZERO);
    fake.failDeployOf('2000000004', 'container never became healthy');
    const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    // WHEN
    const code = await apply(V4_SCALES_TO_ZERO);
    // THEN
    expect(code).not.toBe(0);
    expect(errors.mock.calls.flat().join('\n')).toMatch(
      /the model that scales to zero it replaces \(2000000003\) had been undeployed first, so the endpoint serves nothing until a deploy succeeds/,
    );
    errors.mockRestore();
  });

  test('an undeploy that fails while replacing a model that scales to zero says the endpoint serves nothing', async () => {
    // GIVEN v3 scaling to zero, whose undeploy Vertex refuses
    await apply(SCALES_TO_ZERO);
    fake.refuse(':undeployModel', 1, { code: 400, status: 'FAILED_PRECONDITION', message: 'internal error' });
    const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    // WHEN v4 replaces it
    const code = await apply(V4_SCALES_TO_ZERO);
    // THEN it does not claim new deployments serve the traffic
    expect(code).not.toBe(0);
    const said = errors.mock.calls.flat().join('\n');
    expect(said).toMatch(
      /was emptied to replace a model that scales to zero, but it could not be undeployed, so nothing was deployed and the endpoint serves nothing/,
    );
    expect(said).not.toMatch(/New deployments serve the traffic/);
    errors.mockRestore();
  });

  test('the fake refuses scaleToZeroSpec on v1', async () => {
    // GIVEN a client that sends the v1beta1 body to v1
    const res = await fetch(`${baseUrl}/v1/${ENDPOINT}:deployModel`, {
      method: 'POST',
      headers: { authorization: 'Bearer fake-token', 'content-type': 'application/json' },
      body: JSON.stringify({
        deployedModel: {
          id: '1',
          model: 'x',
          dedicatedResources: { minReplicaCount: 0, maxReplicaCount: 1, scaleToZeroSpec: STZ_SPEC },
        },
      }),
    });
    // THEN
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/Unknown name \\"scaleToZeroSpec\\"/);
  });

  test('the fake refuses minReplicaCount 0 without a scaleToZeroSpec, even on v1beta1', async () => {
    const res = await fetch(`${baseUrl}/v1beta1/${ENDPOINT}:deployModel`, {
      method: 'POST',
      headers: { authorization: 'Bearer fake-token', 'content-type': 'application/json' },
      body: JSON.stringify({
        deployedModel: { id: '1', model: 'x', dedicatedResources: { minReplicaCount: 0, maxReplicaCount: 1 } },
      }),
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/minReplicaCount 0 together with dedicatedResources\.scaleToZeroSpec/);
  });
});

describe('reserved capacity against the fake Vertex', () => {
  test('the reservation affinity reaches deployModel in the machine spec, on v1', async () => {
    // WHEN
    expect(await apply(RESERVED)).toBe(0);
    // THEN
    expect(fake.requests).toContain(`POST ${ENDPOINT}:deployModel`);
    expect(onEndpoint().deployedModels[0].dedicatedResources.machineSpec?.reservationAffinity).toEqual({
      reservationAffinityType: 'SPECIFIC_RESERVATION',
      key: 'compute.googleapis.com/reservation-name',
      values: ['a100-prod'],
    });
    expect(lines.some((l) => /reservation a100-prod/.test(l))).toBe(true);
  });

  test('the fake refuses Spot on a specific reservation', async () => {
    // GIVEN a manifest that slipped past synthesis
    const spot: ManifestInput = {
      ...RESERVED,
      deployments: { '3000000003': { ...RESERVED.deployments!['3000000003'], spot: true } },
    };
    const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    // WHEN
    const code = await apply(spot);
    // THEN
    expect(code).not.toBe(0);
    expect(errors.mock.calls.flat().join('\n')).toMatch(/Spot VMs cannot consume a specific reservation/);
    errors.mockRestore();
  });
});

describe('the manifest', () => {
  test('refuses minReplicaCount 0 without a scaleToZeroSpec', () => {
    const bad = { ...V3_ONLY, deployments: { '2000000003': deployment('yolo26n@v3', 100, { minReplicaCount: 0 }) } };
    expect(manifestSchema.safeParse(bad).success).toBe(false);
  });
});

/** The endpoint serving one model, 2000000003, with these dedicated resources and all the traffic. */
function servingAlone(dedicatedResources: Record<string, unknown>): LiveState {
  return {
    endpoint: {
      deployedModels: [{ id: '2000000003', model: 'm', modelVersionId: '1', dedicatedResources }],
      trafficSplit: { '2000000003': 100 },
    },
    // The alias names another version, so v3 is uploaded again and deployed under the manifest's id.
    models: { 'yolo26n@v3': { exists: true } },
  };
}

describe('planRollout with scale to zero', () => {
  test.each([
    ['minReplicaCount 0', { minReplicaCount: 0, maxReplicaCount: 2 }],
    // Vertex's JSON leaves out a field at its default, so a zero minReplicaCount is absent.
    ['no minReplicaCount (Vertex leaves out a zero)', { maxReplicaCount: 2 }],
  ])('a live model scaled to zero, read with %s, is replaced by undeploying it first', (_, resources) => {
    // GIVEN v3 live, scaled to zero, with all the traffic; a manifest replacing it with v3 on 1 replica
    // WHEN
    const kinds = planRollout(manifestSchema.parse(V3_ONLY), servingAlone(resources)).map((s) => s.kind);
    // THEN it is undeployed first, as one model per endpoint requires
    expect(kinds).toEqual(['upload', 'set-traffic', 'undeploy', 'deploy', 'set-traffic', 'record-state']);
  });

  test('an undeploy-first replacement holds the larger of the old and the new GPUs, not their sum', () => {
    // GIVEN a live model scaled to zero replaced by v3 on the same machine and bounds
    const declared = Object.values(manifestSchema.parse(V3_ONLY).deployments)[0];
    const live = servingAlone({ machineSpec: declared.machineSpec, maxReplicaCount: declared.maxReplicaCount });
    const manifest = manifestSchema.parse(V3_ONLY);
    // WHEN
    const need = rolloutGpuNeed(manifest, live, planRollout(manifest, live));
    // THEN the peak is one deployment's GPUs at a time
    expect(need.peak).toEqual(need.after);
  });

  test('the stack-wide worst case counts a model that scales to zero once', () => {
    // GIVEN a deployment that scales to zero: alone on its endpoint, it is never replaced side by side
    const d = manifestSchema.parse(SCALES_TO_ZERO).deployments['2000000003'];
    // THEN its worst case is what it holds at its maximum, not twice that
    expect(blueGreenPeakGpus([d])).toEqual(gpuCounts([d]));
  });
});
