import { readFile } from 'node:fs/promises';
import { GoogleAuth } from 'google-auth-library';
import { type ServerConfig } from './config';

/** The model's bytes and its optional labels, wherever they came from. */
export interface ModelFiles {
  /** Where the model was read from. */
  readonly modelUri: string;
  /** The ONNX file. */
  readonly model: Uint8Array;
  /** Class names from a labels file, one a line, when there is one. */
  readonly labels?: readonly string[];
  /** Where the labels were read from. */
  readonly labelsUri?: string;
}

const READ_ONLY_SCOPE = 'https://www.googleapis.com/auth/devstorage.read_only';
/** Reading and creating objects (the TensorRT engine cache); https://cloud.google.com/storage/docs/oauth-scopes */
const READ_WRITE_SCOPE = 'https://www.googleapis.com/auth/devstorage.read_write';

/** Cloud Storage answered a request with an error status. */
export class StorageError extends Error {
  constructor(
    message: string,
    /** The HTTP status: 404 no such object, 412 a precondition (`ifGenerationMatch`) failed. */
    readonly status: number,
  ) {
    super(message);
    this.name = 'StorageError';
  }
}

/**
 * Reads objects with the Cloud Storage JSON API
 * (https://cloud.google.com/storage/docs/json_api/v1/objects) and Application Default
 * Credentials. `STORAGE_EMULATOR_HOST` points it at an emulator or a test fake instead, without
 * credentials, as Google's own client libraries do.
 */
export class StorageClient {
  private readonly baseUrl: string;
  private readonly auth?: GoogleAuth;

  /**
   * @param emulatorHost `host:port` or a URL; Cloud Storage itself when undefined
   * @param options.write ask for a token that may also create objects ({@link write})
   */
  constructor(emulatorHost?: string, options: { write?: boolean } = {}) {
    if (emulatorHost) {
      this.baseUrl = (/^https?:\/\//.test(emulatorHost) ? emulatorHost : `http://${emulatorHost}`).replace(/\/+$/, '');
    } else {
      this.baseUrl = 'https://storage.googleapis.com';
      this.auth = new GoogleAuth({ scopes: [options.write ? READ_WRITE_SCOPE : READ_ONLY_SCOPE] });
    }
  }

  /**
   * Creates `gs://bucket/object` with a simple media upload
   * (https://cloud.google.com/storage/docs/uploading-objects#uploading-an-object), only if no object
   * has that name (`ifGenerationMatch=0`): an existing object is never replaced, so the serving
   * account needs only `storage.objects.create`.
   * @throws StorageError with status 412 when the object already exists
   */
  async write(uri: string, bytes: Uint8Array): Promise<void> {
    const { bucket, name } = parseGsUri(uri);
    const q = new URLSearchParams({ uploadType: 'media', name, ifGenerationMatch: '0' });
    const url = `${this.baseUrl}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?${q}`;
    const headers = this.auth ? await this.auth.getRequestHeaders(url) : new Headers();
    headers.set('content-type', 'application/octet-stream');
    await this.check(await fetch(url, { method: 'POST', headers, body: bytes }), 'write', uri);
  }

  /** Downloads `gs://bucket/object`. */
  async read(uri: string): Promise<Buffer> {
    const { bucket, name } = parseGsUri(uri);
    const res = await this.get(
      `/storage/v1/b/${encodeURIComponent(bucket)}/o/${encodeURIComponent(name)}?alt=media`,
      uri,
    );
    return Buffer.from(await res.arrayBuffer());
  }

  /** Names (full `gs://` URIs) of the objects directly inside folder `gs://bucket/prefix`. */
  async list(folderUri: string): Promise<string[]> {
    const { bucket, name } = parseGsUri(folderUri);
    const prefix = name === '' || name.endsWith('/') ? name : `${name}/`;
    const out: string[] = [];
    let pageToken: string | undefined;
    do {
      const q = new URLSearchParams({ prefix, delimiter: '/', fields: 'items(name),nextPageToken' });
      if (pageToken) q.set('pageToken', pageToken);
      const res = await this.get(`/storage/v1/b/${encodeURIComponent(bucket)}/o?${q}`, folderUri);
      const body = (await res.json()) as { items?: { name: string }[]; nextPageToken?: string };
      out.push(...(body.items ?? []).map((i) => `gs://${bucket}/${i.name}`));
      pageToken = body.nextPageToken;
    } while (pageToken);
    return out;
  }

  private async get(pathAndQuery: string, uri: string): Promise<Response> {
    const url = `${this.baseUrl}${pathAndQuery}`;
    const headers = this.auth ? await this.auth.getRequestHeaders(url) : new Headers();
    return this.check(await fetch(url, { headers }), 'read', uri);
  }

  private async check(res: Response, verb: string, uri: string): Promise<Response> {
    if (!res.ok) {
      const detail = (await res.text()).slice(0, 300);
      throw new StorageError(
        `cannot ${verb} ${uri}: Cloud Storage answered ${res.status} ${res.statusText}${detail ? `: ${detail}` : ''}`,
        res.status,
      );
    }
    return res;
  }
}

/** Splits `gs://bucket/name` (name may be empty). */
export function parseGsUri(uri: string): { bucket: string; name: string } {
  const m = /^gs:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m) throw new Error(`not a gs:// URI: ${uri}`);
  return { bucket: m[1], name: m[2] };
}

/**
 * Reads the model and its labels as configured: `MODEL_PATH` (file or `gs://`), else the one
 * `.onnx` object in `AIP_STORAGE_URI`, where Vertex AI copies the model's `artifactUri`
 * (https://cloud.google.com/vertex-ai/docs/predictions/custom-container-requirements#artifacts).
 * A labels file is `LABELS_PATH`, else a `labels.txt` or `*.names` object beside the model in
 * `AIP_STORAGE_URI`.
 * @throws Error naming the URI when something cannot be read or the folder holds no or several models
 */
export async function fetchModelFiles(config: ServerConfig, storage: StorageClient): Promise<ModelFiles> {
  const read = (uri: string) => (uri.startsWith('gs://') ? storage.read(uri) : readFile(uri));
  let modelUri: string;
  let labelsUri = config.labelsPath;
  if (config.model.kind === 'file') {
    modelUri = config.model.uri;
  } else {
    const objects = await storage.list(config.model.uri);
    const models = objects.filter((o) => o.toLowerCase().endsWith('.onnx'));
    if (models.length !== 1) {
      throw new Error(
        `AIP_STORAGE_URI ${config.model.uri} must hold exactly one .onnx file; found ${models.length === 0 ? 'none' : models.join(', ')}`,
      );
    }
    modelUri = models[0];
    labelsUri ??= objects.find((o) => /\/labels\.txt$/i.test(o) || o.toLowerCase().endsWith('.names'));
  }
  let model: Buffer;
  try {
    model = await read(modelUri);
  } catch (err) {
    throw new Error(`cannot read the model ${modelUri}: ${(err as Error).message}`);
  }
  if (!labelsUri) return { modelUri, model };
  let text: string;
  try {
    text = (await read(labelsUri)).toString('utf8');
  } catch (err) {
    throw new Error(`cannot read the labels ${labelsUri}: ${(err as Error).message}`);
  }
  const labels = text.split(/\r?\n/).map((l) => l.trim());
  while (labels.length > 0 && labels[labels.length - 1] === '') labels.pop();
  return { modelUri, model, labels, labelsUri };
}
