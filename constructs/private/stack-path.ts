import * as path from 'node:path';
import { type Construct } from 'constructs';
import { App, TerraformStack } from '../cdk';

/**
 * App context key: when true, a plan written outside the project (`cdktf synth --output /elsewhere`)
 * points at the project's files from where it really is, instead of assuming `cdktf.out/` (what
 * tests, which synthesize into temp dirs for snapshots, rely on). The app (main.ts) sets it.
 */
export const PATHS_FROM_REAL_OUTDIR = 'vertex-gpu-serving:pathsFromRealOutdir';

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
  const outside = relOut.startsWith('..') || path.isAbsolute(relOut);
  if (outside && scope.node.tryGetContext(PATHS_FROM_REAL_OUTDIR) === true) {
    const realStackDir = path.resolve(root, outdir, 'stacks', stack.node.id);
    return path.relative(realStackDir, path.resolve(root, target)).split(path.sep).join('/');
  }
  // Outside the project (tests synthesize into temp dirs), assume cdktf's default layout.
  const outdirInRoot = outside ? 'cdktf.out' : relOut;
  const stackDir = path.join(outdirInRoot, 'stacks', stack.node.id);
  return path.relative(stackDir, target).split(path.sep).join('/');
}
