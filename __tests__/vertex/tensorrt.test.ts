import { Testing } from 'cdktf';
import { parseStacksConfig } from '../../config/load';
import { GPU_DEFAULT_DEPLOYMENT_TIMEOUT_SECONDS, GPU_DEFAULT_STARTUP_PROBE } from '../../rules/vertex';
import { problemsOf, withModel } from '../helpers/config';
import { partsIn } from '../helpers/serving-parts';
import { stacksFromYaml } from '../helpers/synth';

/*
 * TensorRT precision and the shared engine cache (models[].tensorrt; VertexModel tensorrt): one
 * test per refusal, in stacks.yaml and in the construct, and what a valid one puts in the plan.
 */

/** The synthesized stack of a one-model stacks.yaml, as JSON. */
function synth(extra: string, machine?: string): Record<string, any> {
  return JSON.parse(Testing.synth(stacksFromYaml(withModel(extra, machine))[0], true));
}
/** The container spec the rollout manifest uploads for `m@v1`. */
function containerSpecOf(json: Record<string, any>): Record<string, any> {
  const models = Object.values(json.resource.terraform_data)
    .map((r: any) => r.triggers_replace?.manifest?.models)
    .find(Boolean) as Record<string, { containerSpec: Record<string, any> }>;
  return models['m@v1'].containerSpec;
}
const envOf = (spec: Record<string, any>) =>
  Object.fromEntries((spec.env ?? []).map((e: { name: string; value: string }) => [e.name, e.value]));

describe('stacks.yaml models[].tensorrt', () => {
  test("absent on a GPU model: the server's default (FP16), no shared cache, nothing in the plan", () => {
    // GIVEN a GPU model without tensorrt WHEN synthesized
    const spec = containerSpecOf(synth(''));
    // THEN the container gets neither variable
    expect(envOf(spec)).not.toHaveProperty('TENSORRT_PRECISION');
    expect(envOf(spec)).not.toHaveProperty('TENSORRT_CACHE_URI');
  });

  test('precision and engineCache reach the container, the cache under the artifact folder', () => {
    // GIVEN fp32 with a shared cache WHEN synthesized
    const spec = containerSpecOf(synth(', tensorrt: { precision: fp32, engineCache: true }'));
    // THEN both variables are in the uploaded spec
    expect(envOf(spec)).toMatchObject({
      TENSORRT_PRECISION: 'fp32',
      TENSORRT_CACHE_URI: 'gs://acme/m/tensorrt-cache/',
    });
  });

  test('engineCache grants the serving account read and create on the cache prefix only, and requires uniform access (snapshot)', () => {
    // GIVEN a shared cache WHEN synthesized
    const json = synth(', tensorrt: { engineCache: true }');
    // THEN two conditioned bucket grants name the prefix
    const grants = Object.values(json.resource.google_storage_bucket_iam_member).filter(
      (g: any) => g.condition,
    ) as Record<string, any>[];
    expect(grants.map((g) => g.role).sort()).toEqual(['roles/storage.objectCreator', 'roles/storage.objectViewer']);
    for (const g of grants) {
      expect(g.bucket).toBe('acme');
      expect(g.condition.expression).toBe(
        'resource.name.startsWith("projects/_/buckets/acme/objects/m/tensorrt-cache/")',
      );
    }
    expect(grants).toMatchSnapshot();
    // AND the plan checks the bucket's uniform bucket-level access
    const bucket = Object.values(json.data.google_storage_bucket)[0] as any;
    expect(bucket.lifecycle.postcondition.map((p: any) => p.condition)).toContain(
      '${self.uniform_bucket_level_access}',
    );
  });

  test('without engineCache the serving account gets no grant on the artifact bucket', () => {
    // GIVEN a GPU model without a shared cache WHEN synthesized THEN no conditioned grant exists
    const json = synth(', tensorrt: { precision: fp16 }');
    const grants = Object.values(json.resource.google_storage_bucket_iam_member ?? {}) as any[];
    expect(grants.filter((g) => g.condition)).toEqual([]);
  });

  test('a GPU model gets a deployment timeout that covers the startup probe and the image pull', () => {
    // GIVEN a GPU model without deploymentTimeout WHEN synthesized
    const spec = containerSpecOf(synth(''));
    // THEN the timeout is the probe's budget plus 10 minutes; an explicit one wins
    expect(spec.deploymentTimeout).toBe(`${GPU_DEFAULT_DEPLOYMENT_TIMEOUT_SECONDS}s`);
    expect(GPU_DEFAULT_DEPLOYMENT_TIMEOUT_SECONDS).toBe(
      GPU_DEFAULT_STARTUP_PROBE.periodSeconds * GPU_DEFAULT_STARTUP_PROBE.failureThreshold + 600,
    );
    expect(containerSpecOf(synth(', deploymentTimeout: 1h')).deploymentTimeout).toBe('3600s');
  });

  test('a CPU model gets neither a precision nor a deployment timeout', () => {
    // GIVEN a CPU model WHEN synthesized THEN its spec is as before
    const spec = containerSpecOf(synth('', 'type: n1-standard-4'));
    expect(envOf(spec)).not.toHaveProperty('TENSORRT_PRECISION');
    expect(spec.deploymentTimeout).toBeUndefined();
  });

  test('the defaults are applied when the key is given empty', () => {
    // GIVEN tensorrt: {} WHEN loaded THEN fp16 without a cache
    const dev = parseStacksConfig(withModel(', tensorrt: {}')).environments.dev;
    expect(dev.models[0].tensorrt).toEqual({ precision: 'fp16', engineCache: false });
  });

  test('an unknown precision is refused, naming the allowed ones', () => {
    expect(problemsOf(withModel(', tensorrt: { precision: bf16 }'))).toMatch(
      /models\[0\]\.tensorrt\.precision: .*"fp32".*"fp16".*"int8"/,
    );
  });

  test('tensorrt on a machine without a GPU is refused', () => {
    expect(problemsOf(withModel(', tensorrt: { precision: fp16 }', 'type: n1-standard-4'))).toMatch(
      /models\[0\]\.tensorrt: applies only to GPU machines \(machine\.accelerator\)/,
    );
  });

  test('tensorrt with env.EXECUTION_PROVIDERS that leaves TensorRT out is refused', () => {
    expect(problemsOf(withModel(', tensorrt: { precision: fp32 }, env: { EXECUTION_PROVIDERS: "cuda" }'))).toMatch(
      /models\[0\]\.tensorrt: has no effect: env\.EXECUTION_PROVIDERS \("cuda"\) does not list tensorrt/,
    );
  });

  test.each(['TENSORRT_PRECISION', 'TENSORRT_CACHE_URI', 'ORT_TENSORRT_FP16_ENABLE'])(
    'env.%s on a GPU model is refused: tensorrt sets it',
    (name) => {
      expect(problemsOf(withModel(`, env: { ${name}: "1" }`))).toMatch(
        new RegExp(`models\\[0\\]\\.env\\.${name}: is set from tensorrt .*use tensorrt instead`),
      );
    },
  );
});

describe('VertexModel tensorrt', () => {
  test('engineCache gives the model its cache folder and the container TENSORRT_CACHE_URI', () => {
    partsIn((p) => {
      // GIVEN a model with a shared cache WHEN built
      const m = p.model('v1', { artifactUri: 'gs://acme/yolo/', tensorrt: { precision: 'int8', engineCache: true } });
      // THEN
      expect(m.engineCacheUri).toBe('gs://acme/yolo/tensorrt-cache/');
      expect(m.spec.containerSpec.env).toEqual([
        { name: 'TENSORRT_CACHE_URI', value: 'gs://acme/yolo/tensorrt-cache/' },
        { name: 'TENSORRT_PRECISION', value: 'int8' },
      ]);
    });
  });

  test('engineCache without artifactUri is refused', () => {
    expect(() => partsIn((p) => void p.model('v1', { tensorrt: { precision: 'fp16', engineCache: true } }))).toThrow(
      /tensorrt\.engineCache: "true without artifactUri" is not allowed; expected an artifactUri/,
    );
  });

  test('an unknown precision is refused', () => {
    expect(() => partsIn((p) => void p.model('v1', { tensorrt: { precision: 'fp8' as 'fp16' } }))).toThrow(
      /tensorrt\.precision: "fp8" is not allowed; expected one of fp32, fp16, int8/,
    );
  });

  test('container.env setting a variable the tensorrt prop owns is refused', () => {
    expect(() =>
      partsIn(
        (p) =>
          void p.model('v1', {
            tensorrt: { precision: 'fp16' },
            container: { env: { TENSORRT_PRECISION: 'fp32' } },
          }),
      ),
    ).toThrow(
      /container\.env\.TENSORRT_PRECISION: "fp32" is not allowed; expected no value: it is set from the tensorrt prop/,
    );
  });

  test('grantEngineCache on a model without a cache is refused', () => {
    expect(() => partsIn((p) => p.account.grantEngineCache(p.model('v1', { artifactUri: 'gs://acme/yolo' })))).toThrow(
      /grantEngineCache\(.*model-v1\): the model has no engine cache/,
    );
  });
});
