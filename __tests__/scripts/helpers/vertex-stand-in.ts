import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { startTestServer, type TestServer } from '../../serving-image/helpers/server';
import { buildTinyModel } from '../../serving-image/helpers/tiny-model';

/** The project, region and endpoint id of the stand-in's one endpoint. */
export const ENDPOINT = { project: 'acme-test', region: 'us-central1', id: '123456789' } as const;
/** The rawPredict path of {@link ENDPOINT}, as on the Vertex API. */
export const RAW_PREDICT_PATH = `/v1/projects/${ENDPOINT.project}/locations/${ENDPOINT.region}/endpoints/${ENDPOINT.id}:rawPredict`;
/** The route Vertex AI gives the container (AIP_PREDICT_ROUTE) for deployed model 42. */
const CONTAINER_ROUTE = `/v1/endpoints/${ENDPOINT.id}/deployedModels/42:predict`;
/** The token the stand-in accepts. */
export const TOKEN = 'test-token';

/** One request the stand-in received. */
export interface Received {
  readonly path: string;
  readonly authorization: string | undefined;
  readonly contentType: string | undefined;
  /** performance.now() when it arrived. */
  readonly at: number;
  /** What it answered. */
  status?: number;
  /** performance.now() when it answered. */
  answeredAt?: number;
}

/** Options of {@link startVertexStandIn}. */
export interface StandInOptions {
  /** When it returns true for a request (0-based arrival index, ms since the first request), the stand-in answers 429 with `Retry-After: 1`. */
  readonly throttle?: (index: number, msSinceFirst: number) => boolean;
}

/** A local stand-in for a Vertex AI endpoint. */
export interface VertexStandIn {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /** `origin` + {@link RAW_PREDICT_PATH} */
  readonly url: string;
  readonly received: Received[];
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * The project's own serving app (on the tiny test model, with the route Vertex AI gives the
 * container) behind a small HTTP front like Vertex's: `POST .../endpoints/<id>:rawPredict` with
 * `Authorization: Bearer test-token` is forwarded to the app as is; a missing or wrong token gets
 * 401, another path 404, both in Google's error format.
 */
export async function startVertexStandIn(options: StandInOptions = {}): Promise<VertexStandIn> {
  const serving: TestServer = await startTestServer(buildTinyModel({ size: 32, names: true }), {
    AIP_PREDICT_ROUTE: CONTAINER_ROUTE,
  });
  const received: Received[] = [];
  const answer = (res: ServerResponse, entry: Received, status: number, body: string, headers = {}) => {
    entry.status = status;
    entry.answeredAt = performance.now();
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(body);
  };
  const googleError = (code: number, status: string, message: string) =>
    JSON.stringify({ error: { code, message, status } });

  const server: Server = createServer(async (req, res) => {
    const entry: Received = {
      path: req.url ?? '',
      authorization: req.headers.authorization,
      contentType: req.headers['content-type'],
      at: performance.now(),
    };
    const index = received.length;
    received.push(entry);
    const body = await readBody(req);
    if (req.method !== 'POST' || req.url !== RAW_PREDICT_PATH) {
      answer(res, entry, 404, googleError(404, 'NOT_FOUND', `no endpoint at ${req.url}`));
    } else if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      answer(
        res,
        entry,
        401,
        googleError(401, 'UNAUTHENTICATED', 'Request is missing required authentication credential.'),
      );
    } else if (options.throttle?.(index, entry.at - received[0].at)) {
      answer(res, entry, 429, JSON.stringify({ error: { code: 'QUEUE_FULL', message: 'queue full' } }), {
        'retry-after': '1',
      });
    } else {
      const forwarded = await serving.serving.app.inject({
        method: 'POST',
        url: CONTAINER_ROUTE,
        headers: { 'content-type': req.headers['content-type'] ?? 'application/octet-stream' },
        payload: body,
      });
      const retryAfter = forwarded.headers['retry-after'];
      answer(res, entry, forwarded.statusCode, forwarded.body, retryAfter ? { 'retry-after': String(retryAfter) } : {});
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    url: `${origin}${RAW_PREDICT_PATH}`,
    received,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await serving.close();
    },
  };
}

/** Captures a script's output: what `main(argv, io)` printed. */
export function capture(): {
  io: { out(l: string): void; err(t: string): void; tty: boolean };
  out: string[];
  err: string[];
} {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l) => out.push(l), err: (t) => err.push(t), tty: false }, out, err };
}
