import { Testing } from 'cdktf';
import { profileThreadLayout } from '../../serving-image/src/config';
import { MAX_THROUGHPUT_WORKERS, SERVING_PROFILES, cpuThreadLayout, machineVcpus } from '../../rules/serving-profile';
import { problemsOf, withModel } from '../helpers/config';
import { stacksFromYaml } from '../helpers/synth';

/** The container spec the rollout manifest uploads for `m@v1`. */
function containerSpecOf(yaml: string): { env?: { name: string; value: string }[] } {
  const json = JSON.parse(Testing.synth(stacksFromYaml(yaml)[0], true));
  const models = Object.values(json.resource.terraform_data)
    .map((r: any) => r.triggers_replace?.manifest?.models)
    .find(Boolean) as Record<string, { containerSpec: { env?: { name: string; value: string }[] } }>;
  return models['m@v1'].containerSpec;
}

const envOf = (yaml: string) => Object.fromEntries((containerSpecOf(yaml).env ?? []).map((e) => [e.name, e.value]));

describe('models[].profile: the CPU thread layout from the machine type', () => {
  test('throughput on an 8-vCPU machine: 8 single-threaded workers, in the manifest (snapshot)', () => {
    // GIVEN a CPU model with the throughput profile
    // WHEN it is synthesized
    const spec = containerSpecOf(withModel(', profile: throughput', 'type: n1-standard-8'));
    // THEN the container env carries the profile and its layout
    expect(spec.env).toMatchSnapshot();
  });

  test('latency on a 4-vCPU machine: one worker on every vCPU', () => {
    // GIVEN
    // WHEN
    const env = envOf(withModel(', profile: latency', 'type: e2-standard-4'));
    // THEN
    expect(env).toMatchObject({
      SERVING_PROFILE: 'latency',
      WORKERS: '1',
      INTRA_OP_THREADS: '4',
    });
  });

  test('throughput on a 96-vCPU machine stops at the worker cap and gives each worker more threads', () => {
    // GIVEN
    // WHEN
    const env = envOf(withModel(', profile: throughput', 'type: n2-highcpu-96'));
    // THEN every vCPU still runs inference
    expect(env.WORKERS).toBe(String(MAX_THROUGHPUT_WORKERS));
    expect(env.INTRA_OP_THREADS).toBe(String(96 / MAX_THROUGHPUT_WORKERS));
  });

  test("the model's own env wins over the profile's layout", () => {
    // GIVEN an explicit worker count
    // WHEN
    const env = envOf(withModel(', profile: throughput, env: { WORKERS: "3" }', 'type: n1-standard-8'));
    // THEN
    expect(env.WORKERS).toBe('3');
  });

  test('without a profile the stack sets no thread layout (the server default, latency)', () => {
    // GIVEN a CPU model without a profile
    // WHEN
    const env = envOf(withModel('', 'type: n1-standard-8'));
    // THEN
    expect(env).not.toHaveProperty('SERVING_PROFILE');
    expect(env).not.toHaveProperty('WORKERS');
  });

  test.each([
    [', profile: throughput', /models\[0\]\.profile: applies only to CPU machines/],
    [', profile: fastest', /models\[0\]\.profile: .*"latency".*"throughput"/],
  ])('%s on a GPU machine or unknown is refused, naming the key', (extra, message) => {
    expect(problemsOf(withModel(extra))).toMatch(message);
  });
});

describe('the stack and the server compute the same layout', () => {
  test.each(SERVING_PROFILES.flatMap((p) => [1, 2, 3, 4, 8, 16, 22, 32, 96].map((n) => [p, n] as const)))(
    '%s on %i cores',
    (profile, cores) => {
      // GIVEN a CPU machine with `cores` vCPUs
      // WHEN the stack and the server each choose
      // THEN they agree (the server cannot import rules/: it is its own build context)
      expect(profileThreadLayout(profile, cores, 0)).toEqual(cpuThreadLayout(profile, cores));
    },
  );

  test.each([
    ['n1-standard-8', 8],
    ['e2-highcpu-16', 16],
    ['c3-standard-22', 22],
    ['a2-highgpu-1g', undefined],
  ])('machineVcpus(%s) = %s', (type, vcpus) => {
    expect(machineVcpus(type)).toBe(vcpus);
  });
});
