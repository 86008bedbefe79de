import { StacksConfigError, parseStacksConfig } from '../../config/load';

/** The error message for a stacks file that must be rejected; fails the test when it is accepted. */
export function problemsOf(yaml: string): string {
  try {
    parseStacksConfig(yaml);
  } catch (err) {
    expect(err).toBeInstanceOf(StacksConfigError);
    return (err as Error).message;
  }
  throw new Error('expected the stacks file to be rejected');
}
