import * as path from 'node:path';

/**
 * The repository root, where stacks.yaml and the build context live. In a module of its own, not
 * in helpers/synth.ts, because that one loads cdktf and every construct (about 0.4 s per test file):
 * tests that only need paths (serving-image, config, workflow...) and jest's global setup skip that.
 */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');
