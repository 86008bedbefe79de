import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { type Fetch, UsageError, findEnvironmentTarget } from '../../scripts/endpoint-client/target';
import { REPO_ROOT } from '../helpers/paths';
import { exampleStackConstructs, exampleStacks } from '../helpers/synth';

// Discovery needs no credentials except for a dedicated endpoint's DNS name (a fake Vertex API here).

const STACKS = path.join(REPO_ROOT, 'stacks.yaml');

/** A cdktf.out folder holding the example stacks as `cdktf synth` writes them. */
function syntheticOutDir(): string {
  const outDir = mkdtempSync(path.join(tmpdir(), 'cdktf-out-'));
  for (const [name, json] of Object.entries(exampleStacks())) {
    mkdirSync(path.join(outDir, 'stacks', name), { recursive: true });
    writeFileSync(path.join(outDir, 'stacks', name, 'cdk.tf.json'), json);
  }
  return outDir;
}

/** The endpoint id each example stack gives its endpoint. */
const endpointIds = () =>
  Object.fromEntries(exampleStackConstructs().map((s) => [s.node.id, s.endpoint.endpointIdLiteral]));

describe('finding an environment endpoint', () => {
  test("public: the regional rawPredict URL, with the endpoint id read from the environment's synthesized plan", async () => {
    // GIVEN the example stacks.yaml (staging is public) and its synthesized plans
    const outDir = syntheticOutDir();
    // WHEN
    const target = await findEnvironmentTarget('staging', { stacksFile: STACKS, outDir });
    // THEN the id is the one the stack gives its endpoint
    const id = endpointIds().staging;
    expect(target.url).toBe(
      `https://us-central1-aiplatform.googleapis.com/v1/projects/acme-ml-staging/locations/us-central1/endpoints/${id}:rawPredict`,
    );
  });

  test('private-psc: the same path at the forwarding rule address the user passes', async () => {
    // GIVEN prod, a private-psc endpoint
    const outDir = syntheticOutDir();
    // WHEN
    const target = await findEnvironmentTarget('prod', { stacksFile: STACKS, outDir, address: '10.20.0.5' });
    // THEN
    expect(target.url).toBe(
      `http://10.20.0.5/v1/projects/acme-ml-prod/locations/europe-west4/endpoints/${endpointIds().prod}:rawPredict`,
    );
  });

  test('private-psc without --address is a usage mistake that says what to pass', async () => {
    // WHEN / THEN
    await expect(findEnvironmentTarget('prod', { stacksFile: STACKS, outDir: syntheticOutDir() })).rejects.toThrow(
      /prod's endpoint is private-psc: pass --address with the IP address .* forwarding rule/,
    );
  });

  test('dedicated: the DNS name read from the Vertex API with the token, then the same path', async () => {
    // GIVEN a dedicated endpoint with its id in stacks.yaml, and a fake Vertex API
    const dir = mkdtempSync(path.join(tmpdir(), 'stacks-'));
    const file = path.join(dir, 'stacks.yaml');
    writeFileSync(
      file,
      [
        'environments:',
        '  dev:',
        '    project: acme-ml-dev',
        '    region: europe-west4',
        '    endpoint: { access: dedicated, endpointId: "987654321" }',
      ].join('\n'),
    );
    const calls: { url: string; headers?: Record<string, string> }[] = [];
    const fakeFetch: Fetch = async (url, init) => {
      calls.push({ url, headers: init?.headers });
      return new Response(
        JSON.stringify({ dedicatedEndpointDns: '987654321.europe-west4-1234.prediction.vertexai.goog' }),
      );
    };
    // WHEN
    const target = await findEnvironmentTarget('dev', { stacksFile: file, fetch: fakeFetch, token: async () => 'adc' });
    // THEN
    expect(calls).toEqual([
      {
        url: 'https://europe-west4-aiplatform.googleapis.com/v1/projects/acme-ml-dev/locations/europe-west4/endpoints/987654321',
        headers: { authorization: 'Bearer adc' },
      },
    ]);
    expect(target.url).toBe(
      'https://987654321.europe-west4-1234.prediction.vertexai.goog/v1/projects/acme-ml-dev/locations/europe-west4/endpoints/987654321:rawPredict',
    );
  });

  test('without a synthesized plan, says to run npm run synth', async () => {
    // GIVEN an empty cdktf.out
    const outDir = mkdtempSync(path.join(tmpdir(), 'cdktf-out-'));
    // WHEN / THEN
    const found = findEnvironmentTarget('staging', { stacksFile: STACKS, outDir });
    await expect(found).rejects.toThrow(UsageError);
    await expect(found).rejects.toThrow(
      /cannot read the synthesized plan .*staging.*run `npm run synth` first, or pass --url/,
    );
  });

  test('an unknown environment is named with the ones stacks.yaml has', async () => {
    // WHEN / THEN
    await expect(findEnvironmentTarget('stagign', { stacksFile: STACKS })).rejects.toThrow(
      /no environment "stagign" in .*stacks\.yaml; it has: staging, prod/,
    );
  });
});
