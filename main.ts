import { App } from './constructs/cdk';
import { PATHS_FROM_REAL_OUTDIR } from './constructs';
import { type StacksConfig, StacksConfigError, loadStacksConfig } from './config/load';
import { ServingStack } from './app/serving-stack';
import { policyViolations, violationAsProblem } from './app/policy-locations';

/** Options of {@link buildApp}. */
export interface BuildAppOptions {
  /**
   * Directory relative paths in stacks.yaml (the image build context) are resolved against.
   * @default process.cwd()
   */
  readonly root?: string;
  /**
   * A fixed build-context hash (snapshot tests), instead of hashing the files.
   * @default - hashed from the build context
   */
  readonly contextHash?: string;
}

/** Adds one {@link ServingStack} per environment of `config` to `app`. */
export function buildApp(app: App, config: StacksConfig, options: BuildAppOptions = {}): ServingStack[] {
  return Object.entries(config.environments).map(
    ([name, environment]) => new ServingStack(app, name, { environment, ...options }),
  );
}

/**
 * Synthesizes every environment of `config` into `app`.
 * @throws StacksConfigError when a policy check fails, naming the stacks.yaml line and key of each violation
 */
export function synthApp(app: App, config: StacksConfig): void {
  buildApp(app, config);
  try {
    app.synth();
  } catch (err) {
    const violations = policyViolations(app);
    if (violations.length === 0) throw err;
    throw new StacksConfigError(
      config.file,
      violations.map((v) => violationAsProblem(config, v)),
    );
  }
}

function main(): void {
  try {
    // A plan written with `--output` outside the repository still points at this checkout's files.
    synthApp(new App({ context: { [PATHS_FROM_REAL_OUTDIR]: true } }), loadStacksConfig());
  } catch (err) {
    if (err instanceof StacksConfigError) {
      // A user's mistake: the message says what and where; a stack trace would only hide it.
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
}

if (require.main === module) {
  main();
}
