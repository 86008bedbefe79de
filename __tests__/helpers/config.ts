import { type LoadOptions, StacksConfigError, parseStacksConfig } from '../../config/load';

/** A stacks file with one environment `dev` and one model entry; `extra` goes inside the entry's mapping. */
export function withModel(extra: string, machine = 'type: g2-standard-8, accelerator: NVIDIA_L4'): string {
  return `
environments:
  dev:
    project: acme-ml-dev
    models:
      - { name: m, version: v1, artifactUri: gs://acme/m, machine: { ${machine} }, traffic: 100${extra} }
`;
}

/** The error message for a stacks file that must be rejected; fails the test when it is accepted. */
export function problemsOf(yaml: string, options: LoadOptions = {}): string {
  try {
    parseStacksConfig(yaml, 'stacks.yaml', options);
  } catch (err) {
    expect(err).toBeInstanceOf(StacksConfigError);
    return (err as Error).message;
  }
  throw new Error('expected the stacks file to be rejected');
}
