import { statSync } from 'node:fs';
import * as path from 'node:path';
import { shown } from './schema/common';
import { type EnvironmentConfig } from './schema/environment';
import { type ImageConfig } from './schema/image';
import { describeEndpointIdentity, endpointIdentity } from '../rules/vertex';

/** A problem found across or outside the YAML: where (relative to `environments.<name>`) and what. */
export interface EnvironmentProblem {
  /** Environment at fault (the later one in file order, for clashes). */
  readonly environment: string;
  /** Path inside the environment, e.g. `['state', 'prefix']`. */
  readonly at: readonly string[];
  /** What is wrong and what to write instead. */
  readonly message: string;
}

/**
 * Things two environments may not share: one Terraform state (bucket and prefix), one Artifact
 * Registry repository (project, region and id) and one serving account (project and id: service
 * accounts are per project, whatever the region). Each stack would create or overwrite the same
 * thing: the second apply fails with "already exists", or, for the state, replaces the first
 * environment's records so its resources are forgotten.
 * @param environments the validated environments, in file order
 * @param writes whether an environment writes a key itself (rather than taking it from defaults)
 */
export function crossEnvironmentProblems(
  environments: Readonly<Record<string, EnvironmentConfig>>,
  writes: (name: string, keys: readonly string[]) => boolean,
): EnvironmentProblem[] {
  const problems: EnvironmentProblem[] = [];
  const states = new Map<string, string>();
  const repositories = new Map<string, string>();
  const accounts = new Map<string, string>();
  for (const [name, env] of Object.entries(environments)) {
    if (env.state) {
      const prefix = env.state.prefix ?? name;
      const key = `gs://${env.state.bucket}/${prefix}`;
      const first = states.get(key);
      if (first !== undefined) {
        problems.push({
          environment: name,
          at: writes(name, ['state', 'prefix']) ? ['state', 'prefix'] : ['state'],
          message: `Terraform state ${key} is already environment ${first}'s: both stacks would write one state, and applying ${name} would forget (and then destroy) ${first}'s resources; give ${name} its own prefix, e.g. state.prefix: ${suggestPrefix(prefix, name)}`,
        });
      } else {
        states.set(key, name);
      }
    }
    const repository = `${env.project}/${env.region}/${env.image.repository}`;
    const firstRepository = repositories.get(repository);
    if (firstRepository !== undefined) {
      problems.push({
        environment: name,
        at: ['image', 'repository'],
        message: `Artifact Registry repository ${shown(env.image.repository)} in ${env.project} ${env.region} is already created by environment ${firstRepository}: two stacks cannot both create it (the second apply fails with "already exists"); give ${name} its own, e.g. image.repository: ${suffixed(env.image.repository, name, 63)}, or use another project or region`,
      });
    } else {
      repositories.set(repository, name);
    }
    const account = `${env.servingAccountId}@${env.project}`;
    const firstAccount = accounts.get(account);
    if (firstAccount !== undefined) {
      problems.push({
        environment: name,
        at: ['servingAccountId'],
        message: `service account ${env.servingAccountId}@${env.project}.iam.gserviceaccount.com is already created by environment ${firstAccount} (service accounts belong to the project, whatever the region): give ${name} its own, e.g. servingAccountId: ${suffixed(env.servingAccountId, name, 30)}`,
      });
    } else {
      accounts.set(account, name);
    }
  }
  return problems;
}

/**
 * A change that replaces a production endpoint must be acknowledged: `endpoint.identity` holds the
 * fingerprint of the settings that replace it when changed (rules/vertex.ts `EndpointIdentity`),
 * required for `production: true` and checked wherever it is set. Synthesis cannot see the old
 * endpoint, so the acknowledged fingerprint stands for it.
 */
export function endpointIdentityProblems(
  environments: Readonly<Record<string, EnvironmentConfig>>,
): EnvironmentProblem[] {
  const problems: EnvironmentProblem[] = [];
  for (const [name, env] of Object.entries(environments)) {
    const acknowledged = env.endpoint.identity;
    if (!env.production && acknowledged === undefined) continue;
    const settings = {
      environment: name,
      project: env.project,
      region: env.region,
      access: env.endpoint.access,
      kmsKeyName: env.endpoint.kmsKeyName,
      endpointId: env.endpoint.endpointId,
    };
    const now = endpointIdentity(settings);
    if (acknowledged === now) continue;
    const replaces =
      'a change to any of these replaces the endpoint: Terraform deletes it and creates another, with a new endpoint id, and nothing is served until the models are deployed on it (an outage; clients must call the new id)';
    problems.push({
      environment: name,
      at: ['endpoint', 'identity'],
      message:
        acknowledged === undefined
          ? `a production environment pins its endpoint's identity: add identity: ${now} under endpoint: (the fingerprint of ${describeEndpointIdentity(settings)}); ${replaces}, so with it pinned such a change fails here rather than in cdktf deploy`
          : `the endpoint would be replaced: its settings (${describeEndpointIdentity(settings)}) have the fingerprint ${now}, not the acknowledged ${acknowledged}; ${replaces}. ` +
            `Undo the change, or, if the replacement is intended, write identity: ${now}${env.production && !env.allowDestroy ? ' and set allowDestroy: true for that deploy (the endpoint carries prevent_destroy)' : ''}`,
    });
  }
  return problems;
}

/** `id-name`, cut to `max` characters without a trailing hyphen. */
function suffixed(id: string, name: string, max: number): string {
  return `${id.slice(0, Math.max(1, max - name.length - 1))}-${name}`.slice(0, max).replace(/-+$/, '');
}

/** `detector/staging` shared by qa -> `detector/qa`; `detector` -> `detector/qa`. */
function suggestPrefix(prefix: string, name: string): string {
  return prefix.includes('/') ? prefix.replace(/[^/]*$/, name) : `${prefix}/${name}`;
}

/**
 * `image.context` must be a folder under `root` and `image.dockerfile` a file inside it: found now
 * rather than as a raw ENOENT while hashing, or at deploy time when `docker build` runs.
 */
export function buildContextProblems(image: ImageConfig, root: string): { field: string; message: string }[] {
  const context = path.resolve(root, image.context);
  const contextKind = kindOf(context);
  if (contextKind !== 'folder') {
    return [
      {
        field: 'context',
        message: `build context ${shown(image.context)} ${contextKind === 'file' ? 'is a file, not a folder' : 'does not exist'} (resolved to ${context}); image.context is the folder docker builds, relative to the repository root, e.g. context: serving-image`,
      },
    ];
  }
  const dockerfile = path.resolve(context, image.dockerfile);
  if (kindOf(dockerfile) !== 'file') {
    return [
      {
        field: 'dockerfile',
        message: `Dockerfile ${shown(image.dockerfile)} not found in the build context ${shown(image.context)} (resolved to ${dockerfile}); image.dockerfile is relative to image.context, e.g. dockerfile: Dockerfile`,
      },
    ];
  }
  return [];
}

function kindOf(p: string): 'file' | 'folder' | undefined {
  try {
    return statSync(p).isDirectory() ? 'folder' : 'file';
  } catch {
    return undefined;
  }
}
