import { Testing } from 'cdktf';
import { GPU_DEFAULT_STARTUP_PROBE } from '../../rules/vertex';
import { problemsOf, withModel } from '../helpers/config';
import { stacksFromYaml } from '../helpers/synth';

/** The container spec the rollout manifest uploads for `m@v1`. */
function containerSpecOf(yaml: string): Record<string, any> {
  const json = JSON.parse(Testing.synth(stacksFromYaml(yaml)[0], true));
  const models = Object.values(json.resource.terraform_data)
    .map((r: any) => r.triggers_replace?.manifest?.models)
    .find(Boolean) as Record<string, { containerSpec: Record<string, any> }>;
  return models['m@v1'].containerSpec;
}

describe('models[].probes in stacks.yaml', () => {
  test.each([
    [
      'a probe with neither path nor exec',
      '{ startup: { periodSeconds: 5 } }',
      /probes\.startup: needs exactly one of path .* or exec .*, got neither/,
    ],
    [
      'a probe with both path and exec',
      '{ health: { path: /health, exec: [ls] } }',
      /probes\.health: needs exactly one of path .*, got both/,
    ],
    [
      'a path not starting with /',
      '{ liveness: { path: health } }',
      /probes\.liveness\.path: "health" is not an HTTP path starting with \//,
    ],
    ['an empty exec command', '{ liveness: { exec: [] } }', /probes\.liveness\.exec: needs at least 1 item/],
    [
      'periodSeconds 0',
      '{ startup: { path: /health, periodSeconds: 0 } }',
      /probes\.startup\.periodSeconds: 0 is below the minimum 1/,
    ],
    [
      'timeoutSeconds 0',
      '{ startup: { path: /health, timeoutSeconds: 0 } }',
      /probes\.startup\.timeoutSeconds: 0 is below the minimum 1/,
    ],
    [
      'failureThreshold 0',
      '{ startup: { path: /health, failureThreshold: 0 } }',
      /probes\.startup\.failureThreshold: 0 is below the minimum 1/,
    ],
    [
      'a negative initialDelaySeconds',
      '{ startup: { path: /health, initialDelaySeconds: -1 } }',
      /probes\.startup\.initialDelaySeconds: -1 is below the minimum 0/,
    ],
    [
      'periodSeconds over the cap',
      '{ health: { path: /health, periodSeconds: 6000 } }',
      /probes\.health\.periodSeconds: 6000 is above the maximum 3600/,
    ],
    [
      'an unknown probe kind',
      '{ readiness: { path: /health } }',
      /probes\.readiness: unknown key "readiness"; allowed keys: startup, health, liveness/,
    ],
  ])('%s is refused with its YAML path', (_case, probes, message) => {
    // GIVEN a model whose probes hold the mistake
    // WHEN it is loaded
    // THEN the message names the key and what is allowed
    expect(problemsOf(withModel(`, probes: ${probes}`))).toMatch(message);
  });

  test('a probe reaches the model container spec in the rollout manifest, its path on the serving port', () => {
    // GIVEN a liveness probe on a path
    const yaml = withModel(', probes: { liveness: { path: /live, periodSeconds: 20, failureThreshold: 4 } }');
    // WHEN the stack is synthesized
    const spec = containerSpecOf(yaml);
    // THEN the uploaded container spec holds it
    expect(spec.livenessProbe).toEqual({
      httpGet: { path: '/live', port: 8080 },
      periodSeconds: 20,
      failureThreshold: 4,
    });
  });

  test('an exec probe reaches the container spec as a command', () => {
    // GIVEN an exec health probe
    const yaml = withModel(', probes: { health: { exec: [cat, /tmp/ready], timeoutSeconds: 2 } }');
    // WHEN the stack is synthesized
    const spec = containerSpecOf(yaml);
    // THEN the command is passed as is
    expect(spec.healthProbe).toEqual({ exec: { command: ['cat', '/tmp/ready'] }, timeoutSeconds: 2 });
  });

  test('a GPU model without a startup probe gets one that outlasts a TensorRT engine build', () => {
    // GIVEN a GPU model that sets no probes
    // WHEN the stack is synthesized
    const spec = containerSpecOf(withModel(''));
    // THEN its startup probe polls the health route for 30 minutes
    expect(spec.startupProbe).toEqual({ httpGet: { path: '/health', port: 8080 }, ...GPU_DEFAULT_STARTUP_PROBE });
    expect(GPU_DEFAULT_STARTUP_PROBE.periodSeconds * GPU_DEFAULT_STARTUP_PROBE.failureThreshold).toBe(30 * 60);
  });

  test("a GPU model's own startup probe replaces the default", () => {
    // GIVEN a GPU model with its own startup probe
    const yaml = withModel(', probes: { startup: { path: /health, failureThreshold: 60 } }');
    // WHEN the stack is synthesized
    const spec = containerSpecOf(yaml);
    // THEN only its own settings are used
    expect(spec.startupProbe).toEqual({ httpGet: { path: '/health', port: 8080 }, failureThreshold: 60 });
  });

  test('a CPU model gets no startup probe', () => {
    // GIVEN a CPU-only model
    // WHEN the stack is synthesized
    const spec = containerSpecOf(withModel('', 'type: n1-standard-4'));
    // THEN Vertex's own default applies
    expect(spec.startupProbe).toBeUndefined();
  });
});
