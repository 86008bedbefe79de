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

/**
 * Reads objects with the Cloud Storage JSON API
 * (https://cloud.google.com/storage/docs/json_api/v1/objects) and Application Default
 * Credentials. `STORAGE_EMULATOR_HOST` points it at an emulator or a test fake instead, without
 * credentials, as Google's own client libraries do.
 */
export class StorageClient {
  private readonly baseUrl: string;
  private readonly auth?: GoogleAuth;

  /** @param emulatorHost `host:port` or a URL; Cloud Storage itself when undefined */
  constructor(emulatorHost?: string) {
    if (emulatorHost) {
      this.baseUrl = (/^https?:\/\//.test(emulatorHost) ? emulatorHost : `http://${emulatorHost}`).replace(/\/+$/, '');
    } else {
      this.baseUrl = 'https://storage.googleapis.com';
      this.auth = new GoogleAuth({ scopes: [READ_ONLY_SCOPE] });
    }
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
    const res = await fetch(url, { headers });
    if (!res.ok) {
      const detail = (await res.text()).slice(0, 300);
      throw new Error(
        `cannot read ${uri}: Cloud Storage answered ${res.status} ${res.statusText}${detail ? `: ${detail}` : ''}`,
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
