import { App } from './constructs/cdk';
import { type StacksConfig, StacksConfigError, loadStacksConfig } from './config/load';
import { ServingStack } from './app/serving-stack';

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

function main(): void {
  let config: StacksConfig;
  try {
    config = loadStacksConfig();
  } catch (err) {
    if (err instanceof StacksConfigError) {
      // A user's mistake: the message says what and where; a stack trace would only hide it.
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
  const app = new App();
  buildApp(app, config);
  app.synth();
}

if (require.main === module) {
  main();
}
