import { createHash } from 'node:crypto';
import { Testing, TerraformStack } from 'cdktf';
import { DRIFT_LABEL, STATE_LABEL } from '../../contract/manifest';
import { type LiveEndpoint, liveFingerprint } from '../../contract/live-state';
import { VertexEndpoint, VertexRollout } from '../../constructs';

/**
 * The drift feature rests on two implementations agreeing: the HCL that Terraform evaluates at plan
 * time (constructs/vertex/rollout.ts) and `liveFingerprint`, which the deployer records after each
 * rollout (contract/live-state.ts). No Terraform runs here, so this file evaluates the synthesized
 * HCL itself. The evaluator understands only the shapes the construct writes
 * (`format("%v:…", try(dm.a.b, default), …)` inside sort/join/sha256/substr, and the drift
 * conditional); any other change to the HCL fails the parse below, and any change to either side
 * that makes them disagree fails the comparison.
 */

/** The synthesized plan-time read of one rollout. */
function synthesizedDrift(): { fingerprint: string; drift: string } {
  const app = Testing.app();
  const stack = new TerraformStack(app, 'test');
  const endpoint = new VertexEndpoint(stack, 'endpoint', {
    project: 'acme-ml-prod',
    region: 'europe-west4',
    endpointId: '123456789',
  });
  new VertexRollout(stack, 'rollout', { endpoint, accessToken: 'token' });
  const json = JSON.parse(Testing.synth(stack));
  const locals = json.locals as Record<string, string>;
  const fingerprint = Object.entries(locals).find(([name]) => name.startsWith('rollout_live_fingerprint'))![1];
  const drift = json.resource.terraform_data.rollout_Apply_8D56F201.triggers_replace.drift as string;
  return { fingerprint, drift };
}

/** Splits `a, f(b, c), "d,e"` at its top-level commas. */
function splitArgs(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"' && text[i - 1] !== '\\') quoted = !quoted;
    if (quoted) continue;
    if ('([{'.includes(c)) depth++;
    if (')]}'.includes(c)) depth--;
    if (c === ',' && depth === 0) {
      out.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(text.slice(start).trim());
  return out;
}

/** Evaluates the `live_fingerprint` local against a REST endpoint body, as Terraform would. */
function evaluateFingerprint(hcl: string, body: LiveEndpoint): string {
  const whole =
    /^\$\{substr\(sha256\(join\(",", sort\(\[for dm in try\((local\.\w+)\.deployedModels, \[\]\) : format\("([^"]*)", (.*)\)\]\)\)\), 0, 16\)\}$/.exec(
      hcl,
    );
  if (!whole) throw new Error(`the live_fingerprint HCL has a shape this evaluator does not know: ${hcl}`);
  const [, bodyRef, template, argText] = whole;
  const getters = splitArgs(argText).map((arg) => {
    const field = /^try\(dm\.([\w.]+), (.+)\)$/.exec(arg);
    if (field) {
      const [, path, absent] = field;
      return (dm: Record<string, unknown>) =>
        path
          .split('.')
          .reduce<unknown>(
            (cur, key) => (cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[key] : undefined),
            dm,
          ) ?? JSON.parse(absent);
    }
    const traffic = new RegExp(`^try\\(${bodyRef.replace('.', '\\.')}\\.trafficSplit\\[dm\\.id\\], (.+)\\)$`).exec(arg);
    if (traffic) return (dm: Record<string, unknown>) => body.trafficSplit?.[String(dm.id)] ?? JSON.parse(traffic[1]);
    throw new Error(`unknown format argument ${arg}`);
  });
  const entries = (body.deployedModels ?? []).map((dm) => {
    const values = getters.map((get) => String(get(dm as unknown as Record<string, unknown>)));
    const parts = template.split('%v');
    if (parts.length !== values.length + 1)
      throw new Error(`format "${template}" takes ${parts.length - 1} values, got ${values.length}`);
    return parts.map((p, i) => p + (values[i] ?? '')).join('');
  });
  return createHash('sha256').update(entries.sort().join(',')).digest('hex').slice(0, 16);
}

/** Evaluates `triggers_replace.drift` for an HTTP status and body, as Terraform would. */
function evaluateDrift(hcl: string, fingerprintHcl: string, status: number, body: LiveEndpoint | string): string {
  const m =
    /^\$\{\(data\.http\.\w+\.status_code == 404 \|\| \(data\.http\.\w+\.status_code == 403 && strcontains\(data\.http\.\w+\.response_body, "([A-Z_]+)"\)\)\) \? "none" : \(local\.\w+ == try\(local\.\w+\.labels\["([^"]+)"\], "([0-9a-f]{16})"\) \? try\(local\.\w+\.labels\["([^"]+)"\], "none"\) : local\.\w+\)\}$/.exec(
      hcl,
    );
  if (!m) throw new Error(`the drift HCL has a shape this evaluator does not know: ${hcl}`);
  const [, disabledReason, stateLabel, emptyFingerprint, driftLabel] = m;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  if (status === 404 || (status === 403 && text.includes(disabledReason))) return 'none';
  if (typeof body === 'string')
    throw new Error(`HTTP ${status} with a body that is no endpoint: the postcondition fails this plan`);
  const live = evaluateFingerprint(fingerprintHcl, body);
  const recorded = body.labels?.[stateLabel] ?? emptyFingerprint;
  return live === recorded ? (body.labels?.[driftLabel] ?? 'none') : live;
}

const MODEL = 'projects/123/locations/europe-west4/models/yolo26n';
const SERVING: LiveEndpoint = {
  deployedModels: [
    {
      id: '2000000004',
      model: MODEL,
      modelVersionId: '4',
      dedicatedResources: { minReplicaCount: 1, maxReplicaCount: 2 },
    },
    {
      id: '1000000003',
      model: MODEL,
      modelVersionId: '3',
      dedicatedResources: { minReplicaCount: 2, maxReplicaCount: 8 },
    },
    // Fields Vertex may leave out, to exercise each try() default.
    { id: '3000000005', model: MODEL },
  ],
  trafficSplit: { '1000000003': 90, '2000000004': 10 },
};

describe('the plan-time drift HCL and liveFingerprint', () => {
  const { fingerprint, drift } = synthesizedDrift();

  test('compute the same fingerprint', () => {
    // WHEN Terraform's expression and the deployer's function see the same endpoint
    // THEN they agree, with and without deployed models
    expect(evaluateFingerprint(fingerprint, SERVING)).toBe(liveFingerprint(SERVING));
    expect(evaluateFingerprint(fingerprint, {})).toBe(liveFingerprint({}));
  });

  test('plan no rollout right after the deployer recorded the endpoint', () => {
    // GIVEN the labels the deployer writes after a rollout
    const recorded = { ...SERVING, labels: { [STATE_LABEL]: liveFingerprint(SERVING) } };
    // THEN
    expect(evaluateDrift(drift, fingerprint, 200, recorded)).toBe('none');
  });

  test('plan a rollout after a hand-made change, and none after the deployer repaired and recorded it', () => {
    // GIVEN someone moved traffic by hand after the last rollout
    const changed = {
      ...SERVING,
      trafficSplit: { '1000000003': 0, '2000000004': 100 },
      labels: { [STATE_LABEL]: liveFingerprint(SERVING) },
    };
    // THEN the trigger becomes the fingerprint of what serves now
    expect(evaluateDrift(drift, fingerprint, 200, changed)).toBe(liveFingerprint(changed));
    // WHEN the deployer has put it back and recorded the drift it repaired
    const repaired = {
      ...SERVING,
      labels: { [STATE_LABEL]: liveFingerprint(SERVING), [DRIFT_LABEL]: liveFingerprint(changed) },
    };
    // THEN the trigger keeps the value it had in the repair plan, so the next plan is empty
    expect(evaluateDrift(drift, fingerprint, 200, repaired)).toBe(liveFingerprint(changed));
  });

  test('treat a missing endpoint (404) or a Vertex API not enabled yet (first plan of a new project) as "nothing there"', () => {
    expect(evaluateDrift(drift, fingerprint, 404, '{"error":{"status":"NOT_FOUND"}}')).toBe('none');
    expect(
      evaluateDrift(
        drift,
        fingerprint,
        403,
        '{"error":{"status":"PERMISSION_DENIED","details":[{"reason":"SERVICE_DISABLED"}]}}',
      ),
    ).toBe('none');
    expect(() => evaluateDrift(drift, fingerprint, 403, '{"error":{"status":"PERMISSION_DENIED"}}')).toThrow(
      /postcondition fails this plan/,
    );
  });
});
