import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, Testing } from 'cdktf';
import { exampleStackConstructs, stacksFromYaml } from '../helpers/synth';
import { policyErrors } from './helpers';

const PUBLIC_PRODUCTION = `
environments:
  live:
    project: acme-ml-live
    production: true
    endpoint: { identity: 09cfc780ed63e147 }
    labels: { app: detector }
    models:
      - name: yolo26n
        version: v3
        artifactUri: gs://acme-models/yolo26n/v3
        machine: { type: g2-standard-8, accelerator: NVIDIA_L4 }
        traffic: 100
`;

describe('ServingStack policies', () => {
  test('the example stacks.yaml passes every policy check', () => {
    // GIVEN
    const stacks = exampleStackConstructs();
    // THEN
    for (const stack of stacks) {
      expect({ stack: stack.node.id, errors: policyErrors(stack) }).toEqual({ stack: stack.node.id, errors: [] });
    }
  });

  test('a production environment with a public endpoint fails synthesis, naming the resource and the fix', () => {
    // GIVEN
    const [stack] = stacksFromYaml(PUBLIC_PRODUCTION);
    // WHEN / THEN: what `cdktf synth` runs per stack throws on the error annotation
    expect(() => Testing.fullSynth(stack)).toThrow(
      /Encountered Annotations with level "ERROR":\n\[live\/endpoint\/Resource\] \[policy public-endpoint\] endpoint live\/endpoint\/Resource is a public endpoint.*Fix: set `endpoint.access: private-psc`/,
    );
  });

  test('app.synth() fails too (main.ts run directly)', () => {
    // GIVEN an app as main.ts builds it
    const app = new App({ outdir: mkdtempSync(path.join(tmpdir(), 'cdktf-policy-')) });
    stacksFromYaml(PUBLIC_PRODUCTION, app);
    // WHEN / THEN
    expect(() => app.synth()).toThrow(/\[live\/endpoint\/Resource\] \[policy public-endpoint\]/);
  });

  test('under `cdktf synth` the error reaches the manifest, which the CLI prints and fails on', () => {
    // GIVEN the CLI's setting: the app writes errors to the manifest and the CLI fails on them
    // (@cdktf/cli-core synth.js throws "While synthesizing one or more error annotations have been encountered")
    const outdir = mkdtempSync(path.join(tmpdir(), 'cdktf-policy-'));
    process.env.CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS = 'true';
    try {
      const app = new App({ outdir });
      stacksFromYaml(PUBLIC_PRODUCTION, app);
      // WHEN
      app.synth();
    } finally {
      delete process.env.CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS;
    }
    // THEN
    const manifest = JSON.parse(readFileSync(path.join(outdir, 'manifest.json'), 'utf8'));
    const errors = manifest.stacks.live.annotations.filter((a: { level: string }) => a.level === '@cdktf/error');
    expect(errors).toEqual([
      expect.objectContaining({
        constructPath: 'live/endpoint/Resource',
        level: '@cdktf/error',
        message: expect.stringContaining('[policy public-endpoint]'),
      }),
    ]);
  });
});
