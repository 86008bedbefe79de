import * as path from 'node:path';
import { type Construct } from 'constructs';
import { App, TerraformStack } from '../cdk';

/**
 * `target` (relative to the project root) as seen from the directory Terraform runs the stack in
 * (`<outdir>/stacks/<stack>`), with `/` separators: plans then hold no absolute path and are the
 * same on every machine.
 * @param root the project root, where cdktf.json is
 * @param target a path relative to `root`
 */
export function pathFromStackDir(scope: Construct, root: string, target: string): string {
  const stack = TerraformStack.of(scope);
  const outdir = App.of(scope).outdir;
  const relOut = path.relative(root, path.resolve(root, outdir));
  // Outside the project (tests synthesize into temp dirs), assume cdktf's default layout.
  const outdirInRoot = relOut.startsWith('..') || path.isAbsolute(relOut) ? 'cdktf.out' : relOut;
  const stackDir = path.join(outdirInRoot, 'stacks', stack.node.id);
  return path.relative(stackDir, target).split(path.sep).join('/');
}
