import * as path from 'node:path';
import { type App, Testing } from 'cdktf';
import { type StacksConfig, loadStacksConfig, parseStacksConfig } from '../../config/load';
import { type ServingStack } from '../../app/serving-stack';
import { buildApp } from '../../main';
import { REPO_ROOT } from './paths';

/** A fixed build-context hash, so snapshots do not churn with every edit of the server. */
export const PINNED_CONTEXT_HASH = 'a'.repeat(64);

/** The stacks of `config` in `app`, relative paths resolved against the repository root, the build context's hash pinned. */
function stacksOf(config: StacksConfig, app: App): ServingStack[] {
  return buildApp(app, config, { root: REPO_ROOT, contextHash: PINNED_CONTEXT_HASH });
}

/** The stacks of a stacks.yaml text, added to `app` (a fresh test app unless given). */
export function stacksFromYaml(yaml: string, app: App = Testing.app()): ServingStack[] {
  return stacksOf(parseStacksConfig(yaml), app);
}

/** The stacks of the example stacks.yaml, added to a fresh test app. */
export function exampleStackConstructs(): ServingStack[] {
  return stacksOf(loadStacksConfig(path.join(REPO_ROOT, 'stacks.yaml')), Testing.app());
}

/** Every stack of the example stacks.yaml, synthesized afresh (pretty-printed), by environment name. */
export function synthExampleStacks(): Record<string, string> {
  return Object.fromEntries(exampleStackConstructs().map((s) => [s.node.id, Testing.synth(s, true)]));
}

let example: Readonly<Record<string, string>> | undefined;

/**
 * {@link synthExampleStacks}, run once per test file (jest gives each test file its own modules)
 * and shared by its tests: synthesizing one stack takes about 0.3 s.
 */
export function exampleStacks(): Readonly<Record<string, string>> {
  example ??= synthExampleStacks();
  return example;
}
