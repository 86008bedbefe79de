/**
 * Shares the TensorRT engines a replica builds through Cloud Storage (`TENSORRT_CACHE_URI`), so
 * that later replicas and restarts load them instead of building them again (minutes for a
 * large model). The engines of one identity (engine/tensorrt.ts: model hash, precision, GPU,
 * TensorRT and onnxruntime versions) live under `<cache uri><key>/`, where key is a hash of that
 * identity; `manifest.json` there repeats the identity and lists each file with its size and
 * sha256, uploaded to a subfolder of its own. A cache is loaded only when its manifest states this replica's identity and every file
 * matches it: anything else is ignored, never loaded.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { type Logger } from 'pino';
import { type TensorrtSettings } from '../config';
import { type StorageClient, StorageError } from '../model-source';
import {
  applyTensorrtEnvironment,
  type EngineIdentity,
  engineIdentity,
  identityKey,
  type Platform,
  precisionProblem,
} from './tensorrt';

/** The `manifest.json` of one cached identity. */
interface Manifest {
  readonly identity: EngineIdentity;
  /** The upload's own subfolder of the cache folder: two replicas uploading at once never mix files. */
  readonly upload: string;
  readonly files: readonly { readonly name: string; readonly size: number; readonly sha256: string }[];
}

/** What {@link EngineCache.restore} found. */
export type RestoreOutcome = 'restored' | 'absent' | 'mismatch' | 'corrupt' | 'failed';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** The remote engine cache of one identity, and the local folder the TensorRT provider uses. */
export class EngineCache {
  /** `gs://.../<key>/`. */
  readonly uri: string;

  /**
   * @param cacheUri `TENSORRT_CACHE_URI`, ending in `/`
   * @param cacheDir `TENSORRT_CACHE_DIR`, the folder `ORT_TENSORRT_CACHE_PATH` names
   */
  constructor(
    cacheUri: string,
    private readonly cacheDir: string,
    private readonly identity: EngineIdentity,
    private readonly storage: StorageClient,
    private readonly logger: Logger,
  ) {
    this.uri = `${cacheUri}${identityKey(identity)}/`;
  }

  /**
   * Downloads this identity's engines into the local folder before any session is created. Never
   * throws: without a usable cache the provider builds the engines, as without this class.
   */
  async restore(): Promise<RestoreOutcome> {
    // Whatever the object holds: each field is checked before use.
    let manifest: Partial<Manifest> | null;
    try {
      manifest = JSON.parse((await this.storage.read(`${this.uri}manifest.json`)).toString('utf8'));
    } catch (err) {
      if (err instanceof StorageError && err.status === 404) {
        this.logger.info({ cache: this.uri }, 'no cached TensorRT engines for this model and machine: building them');
        return 'absent';
      }
      this.logger.warn(
        { cache: this.uri, reason: (err as Error).message },
        'cannot read the TensorRT engine cache; building the engines',
      );
      return 'failed';
    }
    const differing = differences(manifest?.identity, this.identity);
    if (!manifest || differing.length > 0 || !Array.isArray(manifest.files) || !isPlainName(manifest.upload)) {
      this.logger.warn(
        { cache: this.uri, differing, cached: manifest?.identity, expected: this.identity },
        'the TensorRT engine cache was built for something else; ignoring it and building the engines',
      );
      return 'mismatch';
    }
    const files: [string, Buffer][] = [];
    try {
      for (const f of manifest.files) {
        if (!isPlainName(f.name)) throw new Error(`file name ${JSON.stringify(f.name)} is not a plain file name`);
        const bytes = await this.storage.read(`${this.uri}${manifest.upload}/${f.name}`);
        if (bytes.length !== f.size || sha256(bytes) !== f.sha256) {
          throw new Error(`${f.name} does not match its size and sha256 in the manifest`);
        }
        files.push([f.name, bytes]);
      }
    } catch (err) {
      this.logger.warn(
        { cache: this.uri, reason: (err as Error).message },
        'the TensorRT engine cache is incomplete or damaged; ignoring it and building the engines',
      );
      return 'corrupt';
    }
    // Written only once every file checked out: the provider never sees a cache it should not load.
    try {
      mkdirSync(this.cacheDir, { recursive: true });
      for (const [name, bytes] of files) writeFileSync(path.join(this.cacheDir, name), bytes);
    } catch (err) {
      this.logger.warn(
        { cacheDir: this.cacheDir, reason: (err as Error).message },
        'cannot write the cached TensorRT engines to the cache folder; building the engines',
      );
      return 'failed';
    }
    this.logger.info({ cache: this.uri, files: files.length }, 'TensorRT engines loaded from the cache');
    return 'restored';
  }

  /**
   * Uploads the engines the provider wrote to the local folder into a subfolder of its own, then
   * the manifest, only if none exists yet: when two replicas build at once, the first manifest
   * wins (the other is refused, 412) and names its own files. Never throws: a failed upload is a
   * WARNING, and the replica keeps serving.
   */
  async save(): Promise<void> {
    let names: string[];
    try {
      names = readdirSync(this.cacheDir).filter((n) => statSync(path.join(this.cacheDir, n)).isFile());
    } catch {
      names = [];
    }
    if (!names.some((n) => n.endsWith('.engine'))) {
      this.logger.warn(
        { cacheDir: this.cacheDir },
        'the TensorRT provider wrote no engine to its cache folder: it ignored ORT_TENSORRT_ENGINE_CACHE_ENABLE and the precision (onnxruntime-node passes it an options struct, https://github.com/microsoft/onnxruntime/issues/18380); nothing to share',
      );
      return;
    }
    const files = names.sort().map((name) => {
      const bytes = readFileSync(path.join(this.cacheDir, name));
      return { name, bytes, size: bytes.length, sha256: sha256(bytes) };
    });
    const upload = randomUUID();
    try {
      for (const f of files) await this.writeOnce(`${this.uri}${upload}/${f.name}`, f.bytes);
      const manifest: Manifest = {
        identity: this.identity,
        upload,
        files: files.map(({ name, size, sha256 }) => ({ name, size, sha256 })),
      };
      const created = await this.writeOnce(`${this.uri}manifest.json`, Buffer.from(JSON.stringify(manifest, null, 2)));
      this.logger.info(
        { cache: this.uri, files: files.length },
        created ? 'TensorRT engines saved to the cache' : 'another replica saved these TensorRT engines first',
      );
    } catch (err) {
      this.logger.warn(
        { cache: this.uri, reason: (err as Error).message },
        'cannot save the TensorRT engines to the cache; serving goes on, and the next replica builds them again',
      );
    }
  }

  /** @returns false when the object already existed */
  private async writeOnce(uri: string, bytes: Uint8Array): Promise<boolean> {
    try {
      await this.storage.write(uri, bytes);
      return true;
    } catch (err) {
      if (err instanceof StorageError && err.status === 412) return false;
      throw err;
    }
  }
}

/** The identity fields in which `cached` differs from `expected`. */
function differences(cached: Partial<EngineIdentity> | undefined, expected: EngineIdentity): string[] {
  return (Object.keys(expected) as (keyof EngineIdentity)[]).filter((k) => cached?.[k] !== expected[k]);
}

/** A name the manifest may list: no folder, no `..`, so a manifest cannot write outside the cache folder. */
function isPlainName(name: unknown): name is string {
  return typeof name === 'string' && name !== '' && name !== '.' && name !== '..' && !/[/\\]/.test(name);
}

/** What {@link prepareTensorrt} left to do once the workers are warm. */
export interface TensorrtPreparation {
  /** What the engine cache held, when one is configured and the identity is known. */
  readonly restored?: RestoreOutcome;
  /**
   * Call once the workers are warm, with the provider they run on: shares the engines they built
   * when the cache had none (resolves when done; never throws).
   */
  afterWarmUp(provider: string): Promise<void>;
}

/**
 * Readies the TensorRT provider before the workers start: refuses a precision the model cannot
 * be built in, sets the provider's environment variables in `env` (the main thread's
 * `process.env`), and, with `TENSORRT_CACHE_URI`, downloads the engines cached for this model and
 * machine.
 * @param platform what the machine is (engine/tensorrt.ts detectPlatform)
 * @throws Error when the precision cannot build the model
 */
export async function prepareTensorrt(
  settings: TensorrtSettings,
  model: Uint8Array,
  storage: StorageClient,
  logger: Logger,
  env: NodeJS.ProcessEnv,
  platform: Platform,
): Promise<TensorrtPreparation> {
  const problem = precisionProblem(settings.precision, model);
  if (problem) throw new Error(problem);
  applyTensorrtEnvironment(settings, env);
  const nothing = { afterWarmUp: async () => {} };
  if (!settings.cacheUri) return nothing;
  const identity = engineIdentity(model, settings.precision, platform);
  if ('unknown' in identity) {
    logger.warn(
      { unknown: identity.unknown },
      'cannot tell what the TensorRT engines would be valid for; the engine cache is neither read nor written',
    );
    return nothing;
  }
  const cache = new EngineCache(settings.cacheUri, settings.cacheDir, identity, storage, logger);
  const restored = await cache.restore();
  return {
    restored,
    afterWarmUp: async (provider) => {
      if (provider === 'tensorrt' && restored !== 'restored') await cache.save();
    },
  };
}
