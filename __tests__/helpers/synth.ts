import * as path from 'node:path';
import { Testing } from 'cdktf';
import type { TerraformStack } from 'cdktf';

/** The repository root, where stacks.yaml and the build context live. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** A fixed build-context hash, so snapshots do not churn with every edit of the server. */
export const PINNED_CONTEXT_HASH = 'a'.repeat(64);

/** The parsed Terraform JSON of a synthesized stack. */
export function synthJson(stack: TerraformStack): Record<string, any> {
  return JSON.parse(Testing.synth(stack));
}
