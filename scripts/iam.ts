/**
 * Prints the roles each identity needs for one environment, from its plan synthesized afresh (so
 * it is never older than stacks.yaml and the code): the person deploying, the CI plan identity, the
 * CI deploy identity, and the Vertex AI service agent. See docs/operations.md#permissions.
 *
 *   npm run iam -- staging
 */
import { App } from '../constructs/cdk';
import { StacksConfigError, loadStacksConfig } from '../config/load';
import { buildApp } from '../main';
import { type SynthesizedPlan, blocksOf, formatReport, permissionsOf } from './lib/iam-needs';

/** The synthesized plan of `environment` of the stacks.yaml at `file`. */
export function synthesizedPlan(environment: string, file?: string): SynthesizedPlan {
  const config = loadStacksConfig(file);
  const names = Object.keys(config.environments);
  if (!names.includes(environment)) {
    throw new StacksConfigError(config.file, [
      { path: 'environments', message: `no environment ${JSON.stringify(environment)}; it has ${names.join(', ')}` },
    ]);
  }
  const stack = buildApp(new App(), {
    ...config,
    environments: { [environment]: config.environments[environment] },
  })[0];
  return stack.toTerraform() as SynthesizedPlan;
}

function main(): void {
  const environment = process.argv[2];
  if (!environment) {
    console.error('usage: npm run iam -- <environment>');
    process.exit(2);
  }
  try {
    const plan = synthesizedPlan(environment);
    const types = [...new Set(blocksOf(plan).map(([k]) => k))].sort();
    console.log(formatReport(environment, permissionsOf(plan), types));
  } catch (err) {
    if (err instanceof StacksConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
}

if (require.main === module) main();
