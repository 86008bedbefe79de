import { Testing } from 'cdktf';
import { problemsOf, withModel } from '../helpers/config';
import { stacksFromYaml } from '../helpers/synth';

/** The environment variables the rollout manifest uploads for `m@v1`. */
function containerEnvOf(yaml: string): Record<string, string> {
  const json = JSON.parse(Testing.synth(stacksFromYaml(yaml)[0], true));
  const models = Object.values(json.resource.terraform_data)
    .map((r: any) => r.triggers_replace?.manifest?.models)
    .find(Boolean) as Record<string, { containerSpec: { env?: { name: string; value: string }[] } }>;
  return Object.fromEntries((models['m@v1'].containerSpec.env ?? []).map((e) => [e.name, e.value]));
}

describe('a GPU replica does not quietly serve on its CPU', () => {
  test('a GPU model runs with the GPU providers only, so a replica without them fails to start', () => {
    // GIVEN a model on an L4 machine
    // WHEN it is synthesized
    const env = containerEnvOf(withModel(''));
    // THEN the CPU provider is not in the list
    expect(env.EXECUTION_PROVIDERS).toBe('tensorrt,cuda');
  });

  test('allowCpuFallback: true keeps the server default (TensorRT, CUDA, then CPU)', () => {
    // GIVEN a GPU model that may fall back
    // WHEN
    const env = containerEnvOf(withModel(', allowCpuFallback: true'));
    // THEN the server chooses its own list, which ends with the CPU
    expect(env).not.toHaveProperty('EXECUTION_PROVIDERS');
  });

  test("the model's own env wins", () => {
    // GIVEN an explicit provider list
    // WHEN
    const env = containerEnvOf(withModel(', env: { EXECUTION_PROVIDERS: cuda }'));
    // THEN
    expect(env.EXECUTION_PROVIDERS).toBe('cuda');
  });

  test('a CPU model gets no provider list', () => {
    // GIVEN a CPU-only machine
    // WHEN
    const env = containerEnvOf(withModel('', 'type: n1-standard-4'));
    // THEN
    expect(env).not.toHaveProperty('EXECUTION_PROVIDERS');
  });

  test('allowCpuFallback on a CPU machine is refused, naming the key', () => {
    expect(problemsOf(withModel(', allowCpuFallback: true', 'type: n1-standard-4'))).toMatch(
      /models\[0\]\.allowCpuFallback: applies only to GPU machines \(machine\.accelerator\)/,
    );
  });
});

describe("the server's metrics tell versions apart", () => {
  test('every model container gets MODEL_VERSION, its version, for the model_version label', () => {
    // GIVEN m@v1 on a CPU machine (no other variable) WHEN synthesized THEN
    expect(containerEnvOf(withModel('', 'type: n1-standard-4'))).toEqual({ MODEL_VERSION: 'v1' });
  });

  test("the model's own env wins", () => {
    expect(containerEnvOf(withModel(', env: { MODEL_VERSION: canary }')).MODEL_VERSION).toBe('canary');
  });
});
