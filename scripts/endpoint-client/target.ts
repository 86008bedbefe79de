/**
 * Where `npm run smoke` and `npm run loadtest` send their images: an environment's Vertex AI
 * endpoint (found from stacks.yaml and the synthesized plan) or a URL the user gives, and the
 * `Authorization` header that goes with it.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { loadStacksConfig } from '../../config/load';

/** A mistake of the user's (unknown environment, missing option...): printed as is, exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Where predictions go. */
export interface Target {
  /** The predict URL raw image bodies are POSTed to. */
  readonly url: string;
  /** How it was found, for the first line of the output. */
  readonly description: string;
}

/** Gives the access token of each request, or undefined to send none. */
export type TokenSource = () => Promise<string | undefined>;

/** The `fetch` discovery uses (tests pass a fake one). */
export type Fetch = (url: string, init?: { headers?: Record<string, string> }) => Promise<Response>;

/** Options of {@link findEnvironmentTarget}. */
export interface DiscoveryOptions {
  /** The stacks file. @default - `$STACKS_FILE`, else stacks.yaml */
  readonly stacksFile?: string;
  /** Where `cdktf synth` wrote the plans. @default cdktf.out */
  readonly outDir?: string;
  /** private-psc only: the IP address or host name of the consumer's forwarding rule (or a base URL). */
  readonly address?: string;
  /** dedicated only: reads the endpoint from the Vertex API. */
  readonly fetch?: Fetch;
  /** dedicated only: the token of that read. */
  readonly token?: TokenSource;
}

const VERTEX_API = (region: string) => `https://${region}-aiplatform.googleapis.com`;

/** The `projects/.../endpoints/<id>:rawPredict` path every access kind shares. */
function rawPredictPath(project: string, region: string, endpointId: string): string {
  return `/v1/projects/${project}/locations/${region}/endpoints/${endpointId}:rawPredict`;
}

/**
 * The numeric id of the environment's endpoint: the name of its `google_vertex_ai_endpoint` in the
 * synthesized plan (`cdktf.out/stacks/<environment>/cdk.tf.json`, written by `npm run synth` and by
 * `cdktf deploy`). The plan holds the id even when stacks.yaml leaves it to the stack (a hash of the
 * project, region and construct path), so no cloud call and no Terraform state are needed.
 */
function endpointIdFromPlan(environment: string, outDir: string): string {
  const file = path.join(outDir, 'stacks', environment, 'cdk.tf.json');
  let plan: { resource?: { google_vertex_ai_endpoint?: Record<string, { name?: string }> } };
  try {
    plan = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(
      `cannot read the synthesized plan ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): run \`npm run synth\` first, or pass --url`,
    );
  }
  const endpoints = Object.values(plan.resource?.google_vertex_ai_endpoint ?? {});
  if (endpoints.length !== 1 || !endpoints[0].name) {
    throw new UsageError(
      `${file} holds ${endpoints.length} Vertex AI endpoints, expected 1: run \`npm run synth\` again`,
    );
  }
  return endpoints[0].name;
}

/**
 * Finds the predict URL of `environment`'s endpoint, for its access kind:
 * - `public`: the regional API, `https://<region>-aiplatform.googleapis.com/v1/.../endpoints/<id>:rawPredict`;
 * - `dedicated`: the endpoint's own DNS name, read from the Vertex API (`dedicatedEndpointDns` of
 *   `GET .../endpoints/<id>`, with the token), then the same path;
 * - `private-psc`: `--address` (the consumer's forwarding rule; `http://` unless a scheme is given),
 *   then the same path. The endpoint is only reachable from inside that VPC.
 */
export async function findEnvironmentTarget(environment: string, options: DiscoveryOptions = {}): Promise<Target> {
  const config = loadStacksConfig(options.stacksFile);
  const env = config.environments[environment];
  if (!env) {
    throw new UsageError(
      `no environment ${JSON.stringify(environment)} in ${config.file}; it has: ${Object.keys(config.environments).join(', ')}`,
    );
  }
  const { project, region } = env;
  const access = env.endpoint.access;
  const endpointId = env.endpoint.endpointId ?? endpointIdFromPlan(environment, options.outDir ?? 'cdktf.out');
  const rawPath = rawPredictPath(project, region, endpointId);
  const what = `${environment}: endpoint ${endpointId} (${access}, project ${project}, ${region})`;
  if (options.address !== undefined && access !== 'private-psc') {
    throw new UsageError(`--address is for private-psc endpoints; ${environment}'s endpoint is ${access}`);
  }
  switch (access) {
    case 'public':
      return { url: `${VERTEX_API(region)}${rawPath}`, description: what };
    case 'private-psc': {
      if (!options.address) {
        throw new UsageError(
          `${environment}'s endpoint is private-psc: pass --address with the IP address (or host name) of the Private Service Connect forwarding rule in the consumer VPC (docs/rollouts.md#reaching-a-private-psc-endpoint), and run from inside that VPC`,
        );
      }
      const base = /^[a-z]+:\/\//i.test(options.address) ? options.address : `http://${options.address}`;
      return { url: `${base.replace(/\/+$/, '')}${rawPath}`, description: `${what} via ${options.address}` };
    }
    case 'dedicated': {
      const dns = await dedicatedEndpointDns(project, region, endpointId, options);
      return { url: `https://${dns}${rawPath}`, description: `${what} at ${dns}` };
    }
    default:
      throw new UsageError(`unknown endpoint access ${JSON.stringify(access)}`);
  }
}

/** Reads `dedicatedEndpointDns` of the endpoint from the Vertex API (host name only, scheme dropped). */
async function dedicatedEndpointDns(
  project: string,
  region: string,
  endpointId: string,
  options: DiscoveryOptions,
): Promise<string> {
  const url = `${VERTEX_API(region)}/v1/projects/${project}/locations/${region}/endpoints/${endpointId}`;
  const token = await options.token?.();
  const response = await (options.fetch ?? fetch)(url, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  const text = await response.text();
  if (!response.ok) {
    throw new Error(
      `cannot read endpoint ${endpointId} from ${url}: HTTP ${response.status} ${excerpt(text)} (the identity needs aiplatform.endpoints.get)`,
    );
  }
  const dns = (JSON.parse(text) as { dedicatedEndpointDns?: string }).dedicatedEndpointDns;
  if (!dns) {
    throw new Error(
      `endpoint ${endpointId} has no dedicatedEndpointDns yet (is it deployed with access: dedicated?); answer: ${excerpt(text)}`,
    );
  }
  return dns.replace(/^https?:\/\//, '').replace(/\/+$/, '');
}

/** At most `max` characters of a response body, on one line. */
export function excerpt(text: string, max = 200): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max)}...` : line || '(empty body)';
}

/**
 * The token of each request: `token` when given (`--token`, or `$VERTEX_ACCESS_TOKEN`), none with
 * `--no-auth`, else Application Default Credentials (google-auth-library caches the token and
 * refreshes it before it expires, so long load tests keep working).
 */
export function tokenSource(options: { token?: string; noAuth?: boolean }): TokenSource {
  const fixed = options.token ?? process.env.VERTEX_ACCESS_TOKEN;
  if (options.noAuth) return async () => undefined;
  if (fixed) return async () => fixed;
  let auth: import('google-auth-library').GoogleAuth | undefined;
  return async () => {
    if (!auth) {
      const { GoogleAuth } = await import('google-auth-library');
      auth = new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/cloud-platform'] });
    }
    try {
      const token = await auth.getAccessToken();
      if (!token) throw new Error('no token returned');
      return token;
    } catch (err) {
      throw new UsageError(
        `no Application Default Credentials (${(err as Error).message.split('\n')[0]}): run \`gcloud auth application-default login\`, or pass --token (or --no-auth for a server that needs none)`,
      );
    }
  };
}
