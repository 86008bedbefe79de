import { Testing, TerraformStack } from 'cdktf';
import { ServiceAccount } from '@cdktf/provider-google/lib/service-account';
import { ProjectIamMember } from '@cdktf/provider-google/lib/project-iam-member';
import { VertexAiEndpoint } from '@cdktf/provider-google/lib/vertex-ai-endpoint';
import { type Construct } from 'constructs';
import {
  VertexEndpoint,
  type VertexEndpointProps,
  VertexModel,
  VertexRollout,
  VertexServingAccount,
} from '../../constructs';
import { type ServingParts, servingParts } from '../helpers/serving-parts';

const PROJECT = 'acme-ml-prod';
const REGION = 'europe-west4';

function endpoint(scope: Construct, props: Partial<VertexEndpointProps> = {}): VertexEndpoint {
  return new VertexEndpoint(scope, 'endpoint', { project: PROJECT, region: REGION, ...props });
}

/** The repository, image, serving account and endpoint of a deployment in acme-ml-prod / europe-west4. */
function parts(scope: Construct): ServingParts {
  return servingParts(scope, endpoint(scope), { account: { artifactUris: ['gs://acme-models/yolo26n/v3'] } });
}

function inStack(build: (scope: Construct) => void): void {
  const app = Testing.app();
  build(new TerraformStack(app, 'test'));
}

describe('VertexEndpoint', () => {
  test('public: the shared endpoint, with a stable 9-digit id and the traffic split left to the deployer', () => {
    // WHEN
    let ep!: VertexEndpoint;
    const synthesized = Testing.synthScope((scope) => {
      ep = endpoint(scope);
    });
    // THEN
    expect(ep.endpointIdLiteral).toMatch(/^[1-9]\d{8}$/);
    expect(synthesized).toHaveResourceWithProperties(VertexAiEndpoint, {
      name: ep.endpointIdLiteral,
      project: PROJECT,
      location: REGION,
      lifecycle: { ignore_changes: ['traffic_split'] },
    });
    const [resource] = Object.values(JSON.parse(synthesized).resource.google_vertex_ai_endpoint) as Record<
      string,
      unknown
    >[];
    expect(resource.private_service_connect_config).toBeUndefined();
    expect(resource.dedicated_endpoint_enabled).toBeUndefined();
  });

  test('dedicated: dedicated_endpoint_enabled', () => {
    const synthesized = Testing.synthScope((scope) => void endpoint(scope, { access: 'dedicated' }));
    expect(synthesized).toHaveResourceWithProperties(VertexAiEndpoint, { dedicated_endpoint_enabled: true });
  });

  test('private-psc: Private Service Connect with the allowed consumer projects', () => {
    const synthesized = Testing.synthScope(
      (scope) => void endpoint(scope, { access: 'private-psc', allowedProjects: ['acme-apps-prod'] }),
    );
    expect(synthesized).toHaveResourceWithProperties(VertexAiEndpoint, {
      private_service_connect_config: { enable_private_service_connect: true, project_allowlist: ['acme-apps-prod'] },
    });
  });

  test('request logging to BigQuery and CMEK', () => {
    const kms = `projects/${PROJECT}/locations/${REGION}/keyRings/ml/cryptoKeys/endpoint`;
    const synthesized = Testing.synthScope(
      (scope) =>
        void endpoint(scope, {
          requestLogging: { bigqueryUri: 'bq://acme-ml-prod.serving_logs', samplingRate: 0.1 },
          kmsKeyName: kms,
        }),
    );
    expect(synthesized).toHaveResourceWithProperties(VertexAiEndpoint, {
      predict_request_response_logging_config: {
        enabled: true,
        sampling_rate: 0.1,
        bigquery_destination: { output_uri: 'bq://acme-ml-prod.serving_logs' },
      },
      encryption_spec: { kms_key_name: kms },
    });
  });

  test('private-psc without allowedProjects is refused', () => {
    expect(() => inStack((s) => endpoint(s, { access: 'private-psc' }))).toThrow(
      /allowedProjects: a private-psc endpoint needs at least one project/,
    );
  });

  test('allowedProjects on a public endpoint is refused', () => {
    expect(() => inStack((s) => endpoint(s, { allowedProjects: ['acme-apps-prod'] }))).toThrow(
      /allowedProjects: only applies to access: private-psc, not public/,
    );
  });

  test('a malformed endpoint id is refused', () => {
    expect(() => inStack((s) => endpoint(s, { endpointId: '0123' }))).toThrow(
      /endpointId: "0123" is not allowed; expected 1 to 9 digits/,
    );
  });

  test('a 10-digit endpoint id is refused: Vertex allows at most 9 digits for a numeric id', () => {
    expect(() => inStack((s) => endpoint(s, { endpointId: '1234567890' }))).toThrow(
      /endpointId: "1234567890" is not allowed; expected 1 to 9 digits/,
    );
  });

  test('a sampling rate above 1 is refused', () => {
    expect(() =>
      inStack((s) => endpoint(s, { requestLogging: { bigqueryUri: 'bq://acme-ml-prod', samplingRate: 5 } })),
    ).toThrow(/requestLogging\.samplingRate: 5 is not allowed/);
  });
});

describe('VertexModel', () => {
  test('uploads the digest-pinned image on port 8080 with the serving image routes', () => {
    inStack((s) => {
      const m = parts(s).model('v3', {
        artifactUri: 'gs://acme-models/yolo26n/v3',
        container: { sharedMemorySizeMb: 1024, deploymentTimeoutSeconds: 1800, env: { LOG_LEVEL: 'info' } },
      });
      expect(m.versionName).toBe(`projects/${PROJECT}/locations/${REGION}/models/yolo26n@v3`);
      expect(m.spec.containerSpec).toMatchObject({
        ports: [{ containerPort: 8080 }],
        predictRoute: '/predict',
        healthRoute: '/health',
        sharedMemorySizeMb: '1024',
        deploymentTimeout: '1800s',
        env: [{ name: 'LOG_LEVEL', value: 'info' }],
      });
      expect(String(m.spec.containerSpec.imageUri)).toMatch(/server@\$\{TfToken/);
    });
  });

  test('the fingerprint changes with the container, not with nothing', () => {
    inStack((s) => {
      const p = parts(s);
      const a = p.model('v3');
      const b = p.model('v4');
      const c = p.model('v5', { container: { sharedMemorySizeMb: 2048 } });
      expect(a.fingerprint).toMatch(/^[0-9a-f]{16}$/);
      expect(b.fingerprint).toBe(a.fingerprint);
      expect(c.fingerprint).not.toBe(a.fingerprint);
    });
  });

  test('the reserved alias "default" is refused', () => {
    expect(() => inStack((s) => parts(s).model('default'))).toThrow(
      /versionAlias: "default" is not allowed; expected an alias other than "default"/,
    );
  });

  test('a malformed alias is refused', () => {
    expect(() => inStack((s) => parts(s).model('V3'))).toThrow(
      /versionAlias: "V3" is not allowed; expected a Vertex version alias/,
    );
  });

  test('AIP_ environment variables are refused', () => {
    expect(() => inStack((s) => parts(s).model('v3', { container: { env: { AIP_HTTP_PORT: '1' } } }))).toThrow(
      /container\.env\.AIP_HTTP_PORT/,
    );
  });

  test('a deployment timeout over 2 hours is refused', () => {
    expect(() => inStack((s) => parts(s).model('v3', { container: { deploymentTimeoutSeconds: 7201 } }))).toThrow(
      /container\.deploymentTimeoutSeconds: 7201 is not allowed; expected an integer from 1 to 7200/,
    );
  });

  test('a probe with two actions is refused', () => {
    expect(() =>
      inStack((s) =>
        parts(s).model('v3', {
          container: { startupProbe: { httpGet: { path: '/health' }, tcpSocket: { port: 8080 } } },
        }),
      ),
    ).toThrow(
      /container\.startupProbe: "2 actions" is not allowed; expected exactly one of httpGet, exec, tcpSocket or grpc/,
    );
  });
});

describe('VertexDeployment', () => {
  test('runs as the dedicated serving account, never the default compute account', () => {
    const synthesized = Testing.synthScope((scope) => {
      const p = parts(scope);
      p.deployment('d', p.model('v3'));
    });
    expect(synthesized).toHaveResourceWithProperties(ServiceAccount, { account_id: 'vertex-serving' });
    expect(synthesized).toHaveResourceWithProperties(ProjectIamMember, { role: 'roles/logging.logWriter' });
    expect(synthesized).toHaveResourceWithProperties(ProjectIamMember, { role: 'roles/monitoring.metricWriter' });
    expect(synthesized).not.toMatch(/compute@developer\.gserviceaccount\.com|roles\/editor/);
  });

  test('its id is stable, changes with the machine and keeps with the replica count', () => {
    inStack((s) => {
      const p = parts(s);
      const m = p.model('v3');
      const a = p.deployment('a', m, { minReplicas: 1, maxReplicas: 2, autoscaling: { acceleratorDutyCycle: 60 } });
      const b = p.deployment('b', m, { minReplicas: 3, maxReplicas: 9 });
      const c = p.deployment('c', m, { machineType: 'g2-standard-12' });
      expect(a.deployedModelId).toMatch(/^[1-9]\d{9}$/);
      expect(b.deployedModelId).toBe(a.deployedModelId);
      expect(c.deployedModelId).not.toBe(a.deployedModelId);
      expect(a.spec.autoscalingMetricSpecs).toEqual([
        { metricName: 'aiplatform.googleapis.com/prediction/online/accelerator/duty_cycle', target: 60 },
      ]);
      expect(a.spec.machineSpec).toEqual({
        machineType: 'g2-standard-8',
        acceleratorType: 'NVIDIA_L4',
        acceleratorCount: 1,
      });
    });
  });

  test.each([
    [
      { machineType: 'g2-standard-8', acceleratorType: 'NVIDIA_TESLA_T4' },
      /accelerator NVIDIA_TESLA_T4 does not fit g2-standard-8 \(G2\); allowed: NVIDIA_L4/,
    ],
    [
      { machineType: 'a2-highgpu-2g', acceleratorType: 'NVIDIA_TESLA_A100', acceleratorCount: 1 },
      /a2-highgpu-2g with NVIDIA_TESLA_A100 takes 2 accelerator\(s\) per replica, got 1/,
    ],
    [
      { machineType: 'a3-highgpu-8g', acceleratorType: undefined },
      /a3-highgpu-8g is a GPU machine type: set accelerator to NVIDIA_H100_80GB/,
    ],
    [
      { machineType: 'n1-standard-8', acceleratorType: 'NVIDIA_TESLA_V100', acceleratorCount: 3 },
      /takes 1, 2, 4, 8 accelerator\(s\) per replica, got 3/,
    ],
    [
      { machineType: 'z9-mega-1', acceleratorType: undefined },
      /machine type "z9-mega-1" is not one this project knows/,
    ],
    [
      { machineType: 'n1-standard-32', acceleratorType: 'NVIDIA_TESLA_V100', acceleratorCount: 1 },
      /n1-standard-32 with NVIDIA_TESLA_V100 takes 4, 8 accelerator\(s\) per replica, got 1/,
    ],
    [
      { machineType: 'n1-standard-32', acceleratorType: 'NVIDIA_TESLA_V100' },
      /takes 4, 8 accelerator\(s\) per replica, got 1 \(the default\)/,
    ],
    [
      { machineType: 'n1-standard-64', acceleratorType: 'NVIDIA_TESLA_T4', acceleratorCount: 2 },
      /n1-standard-64 with NVIDIA_TESLA_T4 takes 4 accelerator\(s\) per replica, got 2/,
    ],
    [
      { machineType: 'n1-highmem-96', acceleratorType: 'NVIDIA_TESLA_P100', acceleratorCount: 4 },
      /n1-highmem-96 has more vCPUs than any NVIDIA_TESLA_P100 count allows on N1/,
    ],
  ])('machine %o is refused', (machine, message) => {
    expect(() =>
      inStack((s) => {
        const p = parts(s);
        p.deployment('d', p.model('v3'), machine);
      }),
    ).toThrow(message);
  });

  test.each([
    ['a3-ultragpu-8g', 'NVIDIA_H200_141GB', 8],
    ['a3-highgpu-1g', 'NVIDIA_H100_80GB', 1],
    ['a2-highgpu-1g', 'NVIDIA_TESLA_A100', 1],
    ['n1-standard-4', 'NVIDIA_TESLA_T4', 1],
    ['g2-standard-24', 'NVIDIA_L4', 2],
  ])('%s with %s takes %i by default', (machineType, acceleratorType, count) => {
    inStack((s) => {
      const p = parts(s);
      expect(p.deployment('d', p.model('v3'), { machineType, acceleratorType }).spec.machineSpec.acceleratorCount).toBe(
        count,
      );
    });
  });

  test('min greater than max is refused', () => {
    expect(() =>
      inStack((s) => {
        const p = parts(s);
        p.deployment('d', p.model('v3'), { minReplicas: 4, maxReplicas: 2 });
      }),
    ).toThrow(/maxReplicas: 2 is less than minReplicas \(4\)/);
  });

  test('min below 0 is refused (0 is Scale To Zero, tested in scale-to-zero.test.ts)', () => {
    expect(() =>
      inStack((s) => {
        const p = parts(s);
        p.deployment('d', p.model('v3'), { minReplicas: -1 });
      }),
    ).toThrow(/minReplicas: -1 is not allowed; expected an integer from 0 to 1000/);
  });

  test('an autoscaling target above 100 is refused', () => {
    expect(() =>
      inStack((s) => {
        const p = parts(s);
        p.deployment('d', p.model('v3'), { autoscaling: { cpuUtilization: 120 } });
      }),
    ).toThrow(/autoscaling\.cpuUtilization: 120 is not allowed; expected an integer from 1 to 100/);
  });

  test('requestsPerReplica is a rate (requests per minute per replica), not a percentage', () => {
    inStack((s) => {
      const p = parts(s);
      expect(
        p.deployment('d', p.model('v3'), { autoscaling: { requestsPerReplica: 600 } }).spec.autoscalingMetricSpecs,
      ).toEqual([{ metricName: 'aiplatform.googleapis.com/prediction/online/request_count', target: 600 }]);
    });
    expect(() =>
      inStack((s) => {
        const p = parts(s);
        p.deployment('d', p.model('v3'), { autoscaling: { requestsPerReplica: 0 } });
      }),
    ).toThrow(/autoscaling\.requestsPerReplica: 0 is not allowed; expected an integer from 1 to 1000000/);
  });

  test('a GPU duty-cycle target on a CPU-only machine is refused', () => {
    expect(() =>
      inStack((s) => {
        const p = parts(s);
        p.deployment('d', p.model('v3'), {
          machineType: 'n1-standard-8',
          acceleratorType: undefined,
          autoscaling: { acceleratorDutyCycle: 60 },
        });
      }),
    ).toThrow(/autoscaling\.acceleratorDutyCycle: needs acceleratorType set/);
  });

  test('a deployed model id over 10 digits is refused', () => {
    expect(() =>
      inStack((s) => {
        const p = parts(s);
        p.deployment('d', p.model('v3'), { deployedModelId: '12345678901' });
      }),
    ).toThrow(/deployedModelId: "12345678901" is not allowed; expected 1 to 10 digits/);
  });
});

describe('VertexRollout', () => {
  test('traffic that does not add up to 100 fails synthesis', () => {
    const app = Testing.app();
    const stack = new TerraformStack(app, 'test');
    const p = parts(stack);
    p.deployment('a', p.model('v3'), { trafficPercent: 80 });
    p.deployment('b', p.model('v4'), { trafficPercent: 10 });
    new VertexRollout(stack, 'rollout', { endpoint: p.endpoint });
    expect(() => Testing.fullSynth(stack)).toThrow(
      /traffic must add up to 100 across the endpoint's models, got 90 \(yolo26n@v3: 80, yolo26n@v4: 10\) \(endpoint test\/endpoint\)/,
    );
  });

  test('the same model version deployed twice alike fails synthesis, since both would get one DeployedModel id', () => {
    const app = Testing.app();
    const stack = new TerraformStack(app, 'test');
    const p = parts(stack);
    const m = p.model('v3');
    p.deployment('a', m, { trafficPercent: 50 });
    p.deployment('b', m, { trafficPercent: 50 });
    new VertexRollout(stack, 'rollout', { endpoint: p.endpoint });
    expect(() => Testing.fullSynth(stack)).toThrow(/test\/b and test\/a have the same DeployedModel id \d{10}/);
  });
});

describe('more validations', () => {
  test('a model in another region than the endpoint is refused', () => {
    expect(() =>
      inStack((s) => {
        const p = parts(s);
        p.deployment('d', p.model('v3', { region: 'us-central1' }));
      }),
    ).toThrow(/model: is in acme-ml-prod\/us-central1, the endpoint in acme-ml-prod\/europe-west4/);
  });

  test('addDeployment deploys the model to the endpoint, as one of its deployments', () => {
    // GIVEN
    const stack = new TerraformStack(Testing.app(), 'test');
    const p = parts(stack);
    const model = p.model('v3');
    // WHEN
    const deployment = p.endpoint.addDeployment(model, {
      serviceAccount: p.account,
      machineType: 'g2-standard-8',
      acceleratorType: 'NVIDIA_L4',
      trafficPercent: 100,
    });
    // THEN
    expect(deployment.endpoint).toBe(p.endpoint);
    expect(deployment.model).toBe(model);
    expect(p.endpoint.deployments).toEqual([deployment]);
  });

  test('a rollout carries the deployments added to its endpoint after it was created', () => {
    // GIVEN a rollout created before any deployment
    const stack = new TerraformStack(Testing.app(), 'test');
    const p = parts(stack);
    const rollout = new VertexRollout(stack, 'rollout', { endpoint: p.endpoint });
    // WHEN a deployment is added afterwards
    const deployment = p.deployment('late', p.model('v3'), {
      trafficPercent: 100,
    });
    // THEN the synthesized manifest holds it, and its grants come before the rollout
    const apply = Object.values(
      JSON.parse(Testing.synth(stack)).resource.terraform_data as Record<string, Record<string, any>>,
    ).find((r) => r.triggers_replace?.manifest);
    expect(Object.keys(apply?.triggers_replace.manifest.deployments)).toEqual([deployment.deployedModelId]);
    expect(apply?.depends_on).toEqual(expect.arrayContaining([expect.stringMatching(/^google_project_iam_member\./)]));
    expect(rollout.manifest.deployments).toHaveProperty(deployment.deployedModelId);
  });

  test('one version alias with two different specs fails the rollout', () => {
    const app = Testing.app();
    const stack = new TerraformStack(app, 'test');
    const p = parts(stack);
    const a = new VertexModel(stack, 'a', {
      project: PROJECT,
      region: REGION,
      modelId: 'yolo26n',
      versionAlias: 'v3',
      image: p.image,
    });
    const b = new VertexModel(stack, 'b', {
      project: PROJECT,
      region: REGION,
      modelId: 'yolo26n',
      versionAlias: 'v3',
      image: p.image,
      container: { sharedMemorySizeMb: 64 },
    });
    p.deployment('da', a, { trafficPercent: 50 });
    p.deployment('db', b, { trafficPercent: 50 });
    new VertexRollout(stack, 'rollout', { endpoint: p.endpoint });
    expect(() => Testing.fullSynth(stack)).toThrow(
      /test\/db: yolo26n@v3 is already declared at test\/da; each model version once per endpoint/,
    );
  });

  test('an operation timeout under a minute is refused', () => {
    expect(() =>
      inStack((s) => new VertexRollout(s, 'rollout', { endpoint: endpoint(s), operationTimeoutSeconds: 5 })),
    ).toThrow(/operationTimeoutSeconds: 5 is not allowed; expected an integer from 60 to 86400/);
  });

  test('a malformed service account id is refused', () => {
    expect(() => inStack((s) => new VertexServingAccount(s, 'sa', { project: PROJECT, accountId: 'SA' }))).toThrow(
      /accountId: "SA" is not allowed/,
    );
  });

  test('artifacts outside Cloud Storage cannot be granted', () => {
    expect(() =>
      inStack((s) => new VertexServingAccount(s, 'sa', { project: PROJECT }).grantReadArtifacts('s3://acme/models')),
    ).toThrow(/grantReadArtifacts\(gsUri\): "s3:\/\/acme\/models" is not allowed; expected a gs:\/\/ URI/);
  });
});

describe('VertexModel labels', () => {
  test('do not change the fingerprint: a label change is not a new version and a new GPU deployment', () => {
    inStack((s) => {
      const p = parts(s);
      expect(p.model('v3', { labels: { team: 'a' } }).fingerprint).toBe(
        p.model('v4', { labels: { team: 'b' } }).fingerprint,
      );
    });
  });
});
