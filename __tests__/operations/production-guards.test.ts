import { Testing } from 'cdktf';
import { parseStacksConfig } from '../../config/load';
import { endpointIdentity } from '../../rules/vertex';
import { problemsOf } from '../helpers/config';
import { exampleStacks, stacksFromYaml } from '../helpers/synth';

/*
 * Operating a production environment: `cdktf destroy` refused unless allowed, and settings that
 * replace the endpoint refused at synthesis unless acknowledged (docs/operations.md).
 */

/** The fingerprint of `live`'s endpoint below, as stacks.yaml acknowledges it. */
const LIVE_IDENTITY = endpointIdentity({
  environment: 'live',
  project: 'acme-ml-live',
  region: 'europe-west4',
  access: 'private-psc',
});

/** A production environment `live` on a private-psc endpoint; `extra` goes into its mapping, `endpoint` into its endpoint's. */
function production(endpoint = `identity: ${LIVE_IDENTITY}`, extra = ''): string {
  return `
environments:
  live:
    project: acme-ml-live
    region: europe-west4
    production: true${extra}
    endpoint:
      access: private-psc
      allowedProjects: [acme-apps-live]
      ${endpoint}
`;
}

/** The synthesized plan of the only stack of `yaml`. */
function planOf(yaml: string): any {
  const [stack] = stacksFromYaml(yaml);
  return JSON.parse(Testing.synth(stack));
}

/** `lifecycle` of every resource of `type` in a plan. */
function lifecycles(plan: any, type: string): unknown[] {
  return Object.values(plan.resource[type] ?? {}).map((r: any) => r.lifecycle);
}

describe('production: destroy guard', () => {
  test('the endpoint and image repository of a production environment carry prevent_destroy', () => {
    // WHEN
    const plan = planOf(production());
    // THEN
    expect(lifecycles(plan, 'google_vertex_ai_endpoint')).toEqual([
      expect.objectContaining({ prevent_destroy: true, ignore_changes: ['traffic_split'] }),
    ]);
    expect(lifecycles(plan, 'google_artifact_registry_repository')).toEqual([{ prevent_destroy: true }]);
  });

  test('allowDestroy: true lifts it', () => {
    // WHEN
    const plan = planOf(production(undefined, '\n    allowDestroy: true'));
    // THEN
    expect(JSON.stringify(plan)).not.toContain('prevent_destroy');
  });

  test('an environment that is not production has no guard', () => {
    expect(exampleStacks().staging).not.toContain('prevent_destroy');
  });

  test('the example prod environment is production, with its endpoint and repository guarded', () => {
    // GIVEN
    const prod = JSON.parse(exampleStacks().prod);
    // THEN
    expect(lifecycles(prod, 'google_vertex_ai_endpoint')).toEqual([expect.objectContaining({ prevent_destroy: true })]);
    expect(lifecycles(prod, 'google_artifact_registry_repository')).toEqual([{ prevent_destroy: true }]);
  });
});

describe('production: endpoint replacement must be acknowledged', () => {
  test('the acknowledged identity synthesizes', () => {
    expect(parseStacksConfig(production()).environments.live.endpoint.identity).toBe(LIVE_IDENTITY);
  });

  test('a production environment without an identity is told the value to pin and why', () => {
    expect(problemsOf(production(''))).toMatch(
      new RegExp(
        `environments\\.live\\.endpoint\\.identity: a production environment pins its endpoint's identity: add identity: ${LIVE_IDENTITY} under endpoint: \\(the fingerprint of project acme-ml-live, region europe-west4, access private-psc, no KMS key, endpoint id derived from the environment name live\\)`,
      ),
    );
  });

  test.each([
    [
      'the access mode',
      'access: private-psc\n      allowedProjects: [acme-apps-live]',
      'access: dedicated\n      allowPublic: true',
    ],
    [
      'the KMS key',
      'access: private-psc',
      'access: private-psc\n      kmsKeyName: projects/acme-ml-live/locations/europe-west4/keyRings/r/cryptoKeys/k',
    ],
    ['the region', 'region: europe-west4', 'region: us-central1'],
    ['the environment name', 'live:', 'prod:'],
  ])('changing %s fails synthesis, says it replaces the endpoint and how to accept it', (_, from, to) => {
    // GIVEN the acknowledged production environment, WHEN one setting that replaces the endpoint changes
    const changed = production().replace(from, to);
    // THEN
    expect(problemsOf(changed)).toMatch(
      /endpoint\.identity: the endpoint would be replaced: its settings \(.*\) have the fingerprint [0-9a-f]{16}, not the acknowledged [0-9a-f]{16}; .*new endpoint id.*outage.*write identity: [0-9a-f]{16} and set allowDestroy: true for that deploy/,
    );
  });

  test('a change that does not replace the endpoint (replicas, alerts, labels) needs no acknowledgement', () => {
    expect(() => parseStacksConfig(production(undefined, '\n    labels: { team: ml }'))).not.toThrow();
  });

  test('a pinned endpointId keeps the identity through an environment rename', () => {
    // GIVEN the endpoint id is pinned and acknowledged
    const pinned = endpointIdentity({
      environment: 'any',
      project: 'acme-ml-live',
      region: 'europe-west4',
      access: 'private-psc',
      endpointId: '4242',
    });
    const yaml = production(`endpointId: "4242"\n      identity: ${pinned}`);
    // WHEN the environment is renamed / THEN it is the same endpoint
    expect(() => parseStacksConfig(yaml.replace('live:', 'prod:'))).not.toThrow();
  });
});

describe('cost and quota: the peak GPU output', () => {
  test('each environment outputs the GPUs a blue/green rollout of every deployment holds: 2 x max replicas x GPUs', () => {
    // GIVEN prod: v3 on 2..8 and v4 on 1..2 replicas of a2-highgpu-1g (1 A100 each); staging: 1..2 of g2-standard-8 (1 L4)
    const prod = JSON.parse(exampleStacks().prod);
    const staging = JSON.parse(exampleStacks().staging);
    // THEN
    expect(prod.output.peak_gpus.value).toEqual({ NVIDIA_TESLA_A100: 20 });
    expect(staging.output.peak_gpus.value).toEqual({ NVIDIA_L4: 4 });
  });
});

describe('first deployment: monitoring waits for its API', () => {
  test('every alert policy, notification channel and dashboard depends on monitoring.googleapis.com being enabled', () => {
    // GIVEN
    const plan = JSON.parse(exampleStacks().staging);
    const monitoring = Object.keys(plan.resource).filter((type) => type.startsWith('google_monitoring_'));
    // THEN
    expect(monitoring.sort()).toEqual([
      'google_monitoring_alert_policy',
      'google_monitoring_dashboard',
      'google_monitoring_notification_channel',
    ]);
    for (const type of monitoring) {
      for (const r of Object.values(plan.resource[type]) as { depends_on?: string[] }[]) {
        expect(r.depends_on).toEqual([expect.stringMatching(/^\$\{google_project_service\.services_monitoring_/)]);
      }
    }
  });
});
