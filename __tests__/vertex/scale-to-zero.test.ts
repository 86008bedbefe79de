import { Testing, TerraformStack } from 'cdktf';
import { type Construct } from 'constructs';
import { parseStacksConfig } from '../../config/load';
import { VertexEndpoint, type VertexEndpointProps, VertexRollout } from '../../constructs';
import { type ServingParts, servingParts } from '../helpers/serving-parts';
import { problemsOf } from '../helpers/config';
import { stacksFromYaml } from '../helpers/synth';

/*
 * Scale To Zero (rules/vertex.ts scaleToZeroProblems, scaleToZeroEndpointProblems): one test per
 * refusal, in stacks.yaml and in the VertexDeployment construct, and what a valid one gives.
 */

/** One dev environment on a dedicated endpoint with a single model entry; `extra` goes inside the entry. */
function stz(extra: string, endpoint = 'dedicated', models = ''): string {
  return `
environments:
  dev:
    project: acme-ml-dev
    endpoint: { access: ${endpoint} }
    models:
      - { name: m, version: v1, artifactUri: gs://acme/m, machine: { type: g2-standard-8, accelerator: NVIDIA_L4 }, traffic: 100${extra} }
${models}`;
}

const SCALES = ', replicas: { min: 0, max: 2 }, scaleToZero: { idleMinutes: 30, minUpMinutes: 15 }';

describe('stacks.yaml scaleToZero', () => {
  test('replicas.min 0 with scaleToZero on a dedicated endpoint is accepted, with its minutes', () => {
    // WHEN
    const dev = parseStacksConfig(stz(SCALES)).environments.dev;
    // THEN
    expect(dev.models[0]).toMatchObject({
      replicas: { min: 0, max: 2 },
      scaleToZero: { idleMinutes: 30, minUpMinutes: 15 },
    });
  });

  test('the minutes default to Vertex’s hour each', () => {
    const dev = parseStacksConfig(stz(', replicas: { min: 0, max: 1 }, scaleToZero: {}')).environments.dev;
    expect(dev.models[0].scaleToZero).toEqual({ idleMinutes: 60, minUpMinutes: 60 });
  });

  test('replicas.min 0 without scaleToZero is refused', () => {
    expect(problemsOf(stz(', replicas: { min: 0, max: 2 }'))).toMatch(
      /models\[0\]\.scaleToZero: replicas\.min 0 scales the deployment to zero .* also set scaleToZero/,
    );
  });

  test('scaleToZero with replicas.min above 0 is refused', () => {
    expect(problemsOf(stz(', replicas: { min: 1, max: 2 }, scaleToZero: { idleMinutes: 30 }'))).toMatch(
      /models\[0\]\.scaleToZero: only applies with replicas\.min 0; replicas\.min is 1/,
    );
  });

  test('replicas.min 0 without a max is refused (it would wake up to no replica)', () => {
    expect(problemsOf(stz(', replicas: { min: 0 }, scaleToZero: {}'))).toMatch(
      /models\[0\]\.replicas: a deployment that scales to zero needs replicas\.max of at least 1/,
    );
  });

  test.each([
    ['idleMinutes', 4],
    ['idleMinutes', 481],
    ['minUpMinutes', 4],
    ['minUpMinutes', 481],
  ])('%s %d, outside Vertex’s 5 minutes to 8 hours, is refused', (key, minutes) => {
    expect(problemsOf(stz(`, replicas: { min: 0, max: 1 }, scaleToZero: { ${key}: ${minutes} }`))).toMatch(
      new RegExp(`models\\[0\\]\\.scaleToZero\\.${key}: ${minutes} is (below the minimum 5|above the maximum 480)`),
    );
  });

  test('on a shared public endpoint it is refused', () => {
    expect(problemsOf(stz(SCALES, 'public'))).toMatch(
      /models\[0\]\.replicas\.min: Vertex cannot scale to zero on a shared public endpoint .*set endpoint\.access to dedicated or private-psc/,
    );
  });

  test('next to another model on the endpoint it is refused', () => {
    // GIVEN a canary next to the scaled-to-zero model
    const yaml = stz(SCALES, 'dedicated').replace('traffic: 100', 'traffic: 90');
    const canary = `      - { name: m, version: v2, artifactUri: gs://acme/m, machine: { type: g2-standard-8, accelerator: NVIDIA_L4 }, traffic: 10 }\n`;
    // THEN
    expect(problemsOf(`${yaml}${canary}`)).toMatch(
      /models\[0\]\.replicas\.min: Vertex scales to zero only a model alone on its endpoint, and this endpoint carries 2 models/,
    );
  });

  test('the manifest carries minReplicaCount 0 and the periods in seconds (snapshot)', () => {
    // GIVEN a dev environment that scales to zero on a private-psc endpoint
    const [stack] = stacksFromYaml(
      stz(SCALES, 'private-psc').replace(
        'endpoint: { access: private-psc }',
        'endpoint: { access: private-psc, allowedProjects: [acme-apps-dev] }',
      ),
    );
    // WHEN
    const manifest = stack.rollout.manifest;
    // THEN
    expect(manifest.deployments).toMatchSnapshot();
    expect(Object.values(manifest.deployments ?? {})[0]).toMatchObject({
      minReplicaCount: 0,
      maxReplicaCount: 2,
      scaleToZeroSpec: { minScaleupPeriod: '900s', idleScaledownPeriod: '1800s' },
    });
  });
});

const PROJECT = 'acme-ml-dev';
const REGION = 'us-central1';

function partsOn(scope: Construct, props: Partial<VertexEndpointProps> = {}): ServingParts {
  const endpoint = new VertexEndpoint(scope, 'endpoint', {
    project: PROJECT,
    region: REGION,
    access: 'dedicated',
    ...props,
  });
  return servingParts(scope, endpoint);
}

function inStack(build: (scope: Construct) => void): void {
  build(new TerraformStack(Testing.app(), 'test'));
}

describe('VertexDeployment scaleToZero', () => {
  test('minReplicas 0 with scaleToZero gives the spec in seconds, the defaults an hour', () => {
    // GIVEN
    inStack((s) => {
      const p = partsOn(s);
      // WHEN
      const d = p.deployment('d', p.model('v1'), { minReplicas: 0, maxReplicas: 1, scaleToZero: { idleMinutes: 5 } });
      // THEN
      expect(d.spec).toMatchObject({
        minReplicaCount: 0,
        scaleToZeroSpec: { minScaleupPeriod: '3600s', idleScaledownPeriod: '300s' },
      });
    });
  });

  test('minReplicas 0 without scaleToZero is refused', () => {
    expect(() =>
      inStack((s) => {
        const p = partsOn(s);
        p.deployment('d', p.model('v1'), { minReplicas: 0, maxReplicas: 1 });
      }),
    ).toThrow(/scaleToZero: minReplicas 0 scales the deployment to zero.*also set scaleToZero/);
  });

  test('scaleToZero with minReplicas above 0 is refused', () => {
    expect(() =>
      inStack((s) => {
        const p = partsOn(s);
        p.deployment('d', p.model('v1'), { minReplicas: 1, maxReplicas: 2, scaleToZero: {} });
      }),
    ).toThrow(/scaleToZero: only applies with minReplicas 0; minReplicas is/);
  });

  test('a period outside 5 to 480 minutes is refused', () => {
    expect(() =>
      inStack((s) => {
        const p = partsOn(s);
        p.deployment('d', p.model('v1'), { minReplicas: 0, maxReplicas: 1, scaleToZero: { minUpMinutes: 600 } });
      }),
    ).toThrow(/scaleToZero\.minUpMinutes: 600 is not allowed; expected an integer from 5 to 480/);
  });

  test('on a public endpoint it is refused', () => {
    expect(() =>
      inStack((s) => {
        const p = partsOn(s, { access: 'public' });
        p.deployment('d', p.model('v1'), { minReplicas: 0, maxReplicas: 1, scaleToZero: {} });
      }),
    ).toThrow(/scaleToZero: Vertex cannot scale to zero on a shared public endpoint/);
  });

  test('a second deployment on its endpoint fails synthesis', () => {
    // GIVEN a scaled-to-zero deployment and a canary on one endpoint
    const app = Testing.app();
    const stack = new TerraformStack(app, 'test');
    const p = partsOn(stack);
    p.deployment('a', p.model('v1'), { minReplicas: 0, maxReplicas: 1, scaleToZero: {}, trafficPercent: 90 });
    p.deployment('b', p.model('v2'), { trafficPercent: 10 });
    new VertexRollout(stack, 'rollout', { endpoint: p.endpoint });
    // THEN
    expect(() => Testing.fullSynth(stack)).toThrow(
      /scaleToZero: Vertex scales to zero only a model alone on its endpoint/,
    );
  });

  test('turning it on gives a new DeployedModel id; changing the periods keeps the id', () => {
    // GIVEN the same model deployed three ways, each in its own stack
    const idOf = (props: Parameters<ServingParts['deployment']>[2]) => {
      let id = '';
      inStack((s) => {
        const p = partsOn(s);
        id = p.deployment('d', p.model('v1'), props).deployedModelId;
      });
      return id;
    };
    const always = idOf({ minReplicas: 1, maxReplicas: 1 });
    const idle30 = idOf({ minReplicas: 0, maxReplicas: 1, scaleToZero: { idleMinutes: 30 } });
    const idle60 = idOf({ minReplicas: 0, maxReplicas: 1, scaleToZero: { idleMinutes: 60 } });
    // THEN
    expect(idle30).not.toBe(always);
    expect(idle60).toBe(idle30);
  });
});
