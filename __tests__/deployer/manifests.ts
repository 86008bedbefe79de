import { type ManifestInput } from '../../contract/manifest';

/** Manifests of the example prod environment, shared by the deployer's tests. */

export const PROJECT = 'acme-ml-prod';
export const REGION = 'europe-west4';
export const ENDPOINT_ID = '123456789';
export const ENDPOINT = `projects/${PROJECT}/locations/${REGION}/endpoints/${ENDPOINT_ID}`;
export const MODEL = `projects/${PROJECT}/locations/${REGION}/models/yolo26n`;

export function modelVersion(alias: string, fingerprint: string) {
  return {
    modelId: 'yolo26n',
    versionAlias: alias,
    fingerprint,
    displayName: `yolo26n ${alias}`,
    artifactUri: `gs://acme-models/yolo26n/${alias}`,
    containerSpec: {
      imageUri: 'europe-west4-docker.pkg.dev/acme-ml-prod/serving/server@sha256:abc',
      ports: [{ containerPort: 8080 }],
      predictRoute: '/predict',
      healthRoute: '/health',
    },
  };
}

export function deployment(
  model: string,
  trafficPercent: number,
  overrides: Partial<{ minReplicaCount: number; maxReplicaCount: number; machineType: string }> = {},
) {
  return {
    model,
    displayName: model,
    serviceAccount: 'vertex-serving@acme-ml-prod.iam.gserviceaccount.com',
    machineSpec: {
      machineType: overrides.machineType ?? 'a2-highgpu-1g',
      acceleratorType: 'NVIDIA_TESLA_A100',
      acceleratorCount: 1,
    },
    minReplicaCount: overrides.minReplicaCount ?? 1,
    maxReplicaCount: overrides.maxReplicaCount ?? 2,
    autoscalingMetricSpecs: [
      { metricName: 'aiplatform.googleapis.com/prediction/online/accelerator/duty_cycle', target: 60 },
    ],
    trafficPercent,
  };
}

/** The 90/10 canary of the example prod environment. */
export const CANARY: ManifestInput = {
  endpoint: { project: PROJECT, region: REGION, endpointId: ENDPOINT_ID },
  models: {
    'yolo26n@v3': modelVersion('v3', '00000000000000a3'),
    'yolo26n@v4': modelVersion('v4', '00000000000000a4'),
  },
  deployments: { '1000000003': deployment('yolo26n@v3', 90), '1000000004': deployment('yolo26n@v4', 10) },
};

/** Before the canary: v3 serves everything. */
export const V3_ONLY: ManifestInput = {
  ...CANARY,
  models: { 'yolo26n@v3': CANARY.models!['yolo26n@v3'] },
  deployments: { '1000000003': deployment('yolo26n@v3', 100) },
};

const V3 = CANARY.models!['yolo26n@v3'];

/** The canary after v3's image was pushed again under the same tag with other bytes: a new digest. */
export const REPUSHED: ManifestInput = {
  ...CANARY,
  models: {
    ...CANARY.models,
    'yolo26n@v3': {
      ...V3,
      containerSpec: {
        ...V3.containerSpec,
        imageUri: 'europe-west4-docker.pkg.dev/acme-ml-prod/serving/server@sha256:def',
      },
    },
  },
};

export const DUTY = 'aiplatform.googleapis.com/prediction/online/accelerator/duty_cycle';
export const CPU = 'aiplatform.googleapis.com/prediction/online/cpu/utilization';

/**
 * The environment `deployer apply|destroy` runs with in the tests: `manifest`, the fake Vertex at
 * `baseUrl` with its token, and polls and backoffs in milliseconds.
 */
export function deployerTestEnv(manifest: ManifestInput, baseUrl: string): NodeJS.ProcessEnv {
  return {
    DEPLOYER_MANIFEST: JSON.stringify(manifest),
    VERTEX_API_ENDPOINT: baseUrl,
    GOOGLE_OAUTH_ACCESS_TOKEN: 'fake-token',
    DEPLOYER_POLL_SECONDS: '0.001',
    DEPLOYER_BACKOFF_MS: '1',
    DEPLOYER_BACKOFF_MAX_MS: '4',
  };
}
