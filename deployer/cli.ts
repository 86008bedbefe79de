import { GoogleAuth } from 'google-auth-library';
import { z } from 'zod';
import { type Manifest, manifestSchema } from '../contract/manifest';
import { RolloutError } from './errors';
import { applyManifest, destroyEndpointDeployments, quotaCause } from './rollout';
import { OperationError, QuotaError, VertexApiError, VertexClient } from './vertex-client';

/**
 * The deployer's settings, read once from environment variables:
 * - `DEPLOYER_MANIFEST` (required): the JSON manifest Terraform passes;
 * - `VERTEX_API_ENDPOINT`: base URL of the Vertex API, e.g. a local fake (default `https://<region>-aiplatform.googleapis.com`;
 *   the google provider's `vertex_ai_custom_endpoint` form with a trailing `/v1/` works too);
 * - `GOOGLE_OAUTH_ACCESS_TOKEN`: an access token to use instead of Application Default Credentials;
 * - `DEPLOYER_POLL_SECONDS` (15), `DEPLOYER_MAX_RETRIES` (6), `DEPLOYER_BACKOFF_MS` (1000), `DEPLOYER_BACKOFF_MAX_MS` (32000);
 * - `DEPLOYER_IAM_WAIT_SECONDS` (420), `DEPLOYER_IAM_RETRY_SECONDS` (30): how long a run retries PERMISSION_DENIED
 *   on uploads and deployments while IAM propagates, and how often.
 */
const envSchema = z.object({
  DEPLOYER_MANIFEST: z
    .string({ error: 'DEPLOYER_MANIFEST is not set (Terraform sets it; see docs/deployer.md)' })
    .min(2),
  VERTEX_API_ENDPOINT: z.url({ error: 'VERTEX_API_ENDPOINT must be a URL such as http://127.0.0.1:8080' }).optional(),
  GOOGLE_OAUTH_ACCESS_TOKEN: z.string().min(1).optional(),
  DEPLOYER_POLL_SECONDS: z.coerce.number().positive().max(300).default(15),
  DEPLOYER_MAX_RETRIES: z.coerce.number().int().min(0).max(20).default(6),
  DEPLOYER_BACKOFF_MS: z.coerce.number().int().min(0).max(60_000).default(1000),
  DEPLOYER_BACKOFF_MAX_MS: z.coerce.number().int().min(0).max(300_000).default(32_000),
  DEPLOYER_IAM_WAIT_SECONDS: z.coerce.number().min(0).max(3600).default(420),
  DEPLOYER_IAM_RETRY_SECONDS: z.coerce.number().positive().max(300).default(30),
});

/** Exit codes: 0 done, 1 failed, 2 bad settings or manifest, 3 refused for lack of quota (retrying will not help). */
export const EXIT_QUOTA = 3;

/** Options of {@link runDeployer} (tests inject the clock-free parts). */
export interface RunOptions {
  /** Where progress goes. @default console.log with elapsed time */
  readonly log?: (line: string) => void;
  /** Jitter source. @default Math.random */
  readonly random?: () => number;
  /** Application Default Credentials. @default a GoogleAuth with the cloud-platform scope */
  readonly auth?: { getRequestHeaders(url: string): Promise<Headers> };
}

const USAGE = 'usage: deployer apply|destroy   (the manifest comes in DEPLOYER_MANIFEST)';

/**
 * Runs `apply` or `destroy` and returns the process exit code. A failure is printed in plain words
 * (no stack trace: the message says what happened and what was left as it was).
 */
export async function runDeployer(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  options: RunOptions = {},
): Promise<number> {
  const started = Date.now();
  const log =
    options.log ?? ((line: string) => console.log(`[deployer +${Math.round((Date.now() - started) / 1000)}s] ${line}`));
  const command = args[0];
  if (command !== 'apply' && command !== 'destroy') {
    console.error(USAGE);
    return 2;
  }
  const parsedEnv = envSchema.safeParse(env);
  if (!parsedEnv.success) {
    console.error(`deployer: ${parsedEnv.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    return 2;
  }
  const settings = parsedEnv.data;
  let manifest: Manifest;
  try {
    manifest = manifestSchema.parse(JSON.parse(settings.DEPLOYER_MANIFEST));
  } catch (err) {
    console.error(`deployer: DEPLOYER_MANIFEST is not a valid manifest: ${(err as Error).message}`);
    return 2;
  }
  const client = new VertexClient({
    baseUrl: settings.VERTEX_API_ENDPOINT ?? `https://${manifest.endpoint.region}-aiplatform.googleapis.com`,
    headers: headerSource(settings.GOOGLE_OAUTH_ACCESS_TOKEN, options.auth),
    log,
    maxRetries: settings.DEPLOYER_MAX_RETRIES,
    backoffBaseMs: settings.DEPLOYER_BACKOFF_MS,
    backoffMaxMs: settings.DEPLOYER_BACKOFF_MAX_MS,
    pollIntervalMs: settings.DEPLOYER_POLL_SECONDS * 1000,
    random: options.random,
    iamPropagationMs: settings.DEPLOYER_IAM_WAIT_SECONDS * 1000,
    iamRetryMs: settings.DEPLOYER_IAM_RETRY_SECONDS * 1000,
  });
  try {
    if (command === 'apply') {
      await applyManifest(manifest, { client, log });
    } else {
      await destroyEndpointDeployments(manifest.endpoint, manifest.operationTimeoutSeconds, { client, log });
    }
    return 0;
  } catch (err) {
    if (
      err instanceof RolloutError ||
      err instanceof VertexApiError ||
      err instanceof OperationError ||
      err instanceof QuotaError
    ) {
      console.error(`deployer ${command} failed: ${err.message}`);
      return quotaCause(err) ? EXIT_QUOTA : 1;
    }
    throw err;
  }
}

/**
 * `GOOGLE_OAUTH_ACCESS_TOKEN` when set (as the google provider does), else the request headers of
 * Application Default Credentials: google-auth-library adds `x-goog-user-project` when user
 * credentials name a quota project (`gcloud auth application-default set-quota-project`), without
 * which Vertex may refuse user credentials.
 */
function headerSource(
  fixed: string | undefined,
  adc?: RunOptions['auth'],
): (url: string) => Promise<Record<string, string>> {
  if (fixed) return async () => ({ authorization: `Bearer ${fixed}` });
  const auth = adc ?? new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/cloud-platform'] });
  return async (url) => {
    // google-auth-library caches the token and refreshes it before it expires.
    const headers = await auth.getRequestHeaders(url).catch((err: Error) => {
      throw new VertexApiError(
        401,
        'UNAUTHENTICATED',
        `no Google credentials (${err.message}); run \`gcloud auth application-default login\` or set GOOGLE_OAUTH_ACCESS_TOKEN`,
      );
    });
    const plain = Object.fromEntries(headers.entries());
    if (!plain.authorization)
      throw new VertexApiError(
        401,
        'UNAUTHENTICATED',
        'Application Default Credentials gave no access token; run `gcloud auth application-default login`',
      );
    return plain;
  };
}

if (require.main === module) {
  runDeployer(process.argv.slice(2), process.env).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
