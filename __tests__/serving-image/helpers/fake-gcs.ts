import { createServer, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';

/**
 * A loopback fake of the Cloud Storage JSON API calls the server makes: list (one item a page),
 * download, and media upload with `ifGenerationMatch=0` (412 when the object exists).
 */
export interface FakeGcs {
  /** `127.0.0.1:<port>`, for STORAGE_EMULATOR_HOST. */
  readonly host: string;
  /** Request paths seen. */
  readonly requests: string[];
  close(): Promise<void>;
}

/**
 * Serves `objects` (`bucket/name` → bytes); uploads are added to it.
 * @param options.uploadStatus answer every upload with this status instead of storing it
 */
export async function startFakeGcs(
  objects: Record<string, Uint8Array | string>,
  options: { uploadStatus?: number } = {},
): Promise<FakeGcs> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    requests.push(url.pathname);
    const upload = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
    if (req.method === 'POST' && upload && url.searchParams.get('uploadType') === 'media') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const key = `${upload[1]}/${url.searchParams.get('name')}`;
        const exists = objects[key] !== undefined && url.searchParams.get('ifGenerationMatch') === '0';
        res.statusCode = options.uploadStatus ?? (exists ? 412 : 200);
        if (res.statusCode === 200) objects[key] = Buffer.concat(chunks);
        res.end(
          JSON.stringify(
            res.statusCode === 200 ? { name: url.searchParams.get('name') } : { error: { code: res.statusCode } },
          ),
        );
      });
      return;
    }
    const list = /^\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
    const get = /^\/storage\/v1\/b\/([^/]+)\/o\/([^/]+)$/.exec(url.pathname);
    if (list) {
      const prefix = url.searchParams.get('prefix') ?? '';
      const delimiter = url.searchParams.get('delimiter');
      const names = Object.keys(objects)
        .filter((k) => k.startsWith(`${list[1]}/`))
        .map((k) => k.slice(list[1].length + 1))
        .filter((n) => n.startsWith(prefix) && !(delimiter && n.slice(prefix.length).includes(delimiter)))
        .sort();
      const page = Number(url.searchParams.get('pageToken') ?? 0);
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          items: names.slice(page, page + 1).map((name) => ({ name })),
          ...(page + 1 < names.length ? { nextPageToken: String(page + 1) } : {}),
        }),
      );
    } else if (
      get &&
      url.searchParams.get('alt') === 'media' &&
      objects[`${get[1]}/${decodeURIComponent(get[2])}`] !== undefined
    ) {
      res.end(objects[`${get[1]}/${decodeURIComponent(get[2])}`]);
    } else {
      res.statusCode = 404;
      res.end(JSON.stringify({ error: { code: 404, message: 'No such object' } }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
