import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo } from 'node:net';
import * as path from 'node:path';

/** The self-signed certificate of the stand-in: the server trusts it through NODE_EXTRA_CA_CERTS. */
export const FAKE_MONITORING_CA = path.join(__dirname, 'tls', 'loopback.crt');

/** One time series as CreateTimeSeries receives it (https://cloud.google.com/monitoring/api/ref_v3/rest/v3/TimeSeries). */
export interface WrittenTimeSeries {
  readonly metric: { readonly type: string; readonly labels: Record<string, string> };
  readonly resource: { readonly type: string; readonly labels: Record<string, string> };
  readonly metricKind: string;
  readonly valueType: string;
  readonly points: {
    readonly value: {
      readonly int64Value?: string;
      readonly doubleValue?: number;
      readonly distributionValue?: { readonly count: string; readonly mean: number };
    };
  }[];
}

/**
 * A loopback stand-in for what Google's exporter calls: the Cloud Monitoring API's CreateTimeSeries
 * (REST, over HTTPS, as the exporter always reaches it) and the metadata server's token (plain HTTP,
 * where GCE_METADATA_HOST points the auth library, as on Vertex AI).
 */
export interface FakeMonitoring {
  /** Environment pointing the server's exporter and credentials here. */
  readonly env: Record<string, string>;
  /** Every CreateTimeSeries call: project path and its time series. */
  readonly writes: { readonly name: string; readonly timeSeries: WrittenTimeSeries[] }[];
  /** The Authorization headers CreateTimeSeries saw. */
  readonly authorizations: string[];
  /** When set, CreateTimeSeries answers this HTTP status with a Google API error body. */
  failWith?: number;
  close(): Promise<void>;
}

const TOKEN = 'fake-access-token';

export async function startFakeMonitoring(): Promise<FakeMonitoring> {
  const writes: FakeMonitoring['writes'] = [];
  const authorizations: string[] = [];
  const fake: FakeMonitoring = {
    env: {},
    writes,
    authorizations,
    close: () => Promise.all([close(api), close(metadata)]).then(() => undefined),
  };
  const api = createHttpsServer(
    { cert: readFileSync(FAKE_MONITORING_CA), key: readFileSync(path.join(__dirname, 'tls', 'loopback.key')) },
    (req, res) =>
      void body(req).then((text) => {
        const create = /^\/v3\/(projects\/[^/]+)\/timeSeries$/.exec(new URL(req.url!, 'https://x').pathname);
        if (req.method !== 'POST' || !create) return json(res, 404, { error: { code: 404, message: 'not found' } });
        authorizations.push(req.headers.authorization ?? '');
        if (fake.failWith !== undefined)
          return json(res, fake.failWith, {
            error: {
              code: fake.failWith,
              message: 'Permission monitoring.timeSeries.create denied',
              status: 'PERMISSION_DENIED',
            },
          });
        writes.push({
          name: create[1],
          timeSeries: (JSON.parse(text) as { timeSeries: WrittenTimeSeries[] }).timeSeries,
        });
        return json(res, 200, {});
      }),
  );
  const metadata = createHttpServer((req, res) => {
    res.setHeader('metadata-flavor', 'Google');
    const url = new URL(req.url!, 'http://x').pathname;
    if (url === '/computeMetadata/v1/instance/service-accounts/default/token')
      return json(res, 200, { access_token: TOKEN, expires_in: 3600, token_type: 'Bearer' });
    if (url === '/computeMetadata/v1/universe/universe-domain') return text(res, 'googleapis.com');
    if (url === '/computeMetadata/v1/project/project-id') return text(res, 'fake-project');
    return text(res, '', 404);
  });
  await Promise.all([listen(api), listen(metadata)]);
  fake.env.CLOUD_MONITORING_ENDPOINT = `127.0.0.1:${(api.address() as AddressInfo).port}`;
  fake.env.GCE_METADATA_HOST = `127.0.0.1:${(metadata.address() as AddressInfo).port}`;
  fake.env.METADATA_SERVER_DETECTION = 'assume-present';
  fake.env.NODE_EXTRA_CA_CERTS = FAKE_MONITORING_CA;
  return fake;
}

/** The Authorization header the exporter sends with the stand-in's token. */
export const FAKE_AUTHORIZATION = `Bearer ${TOKEN}`;

function listen(server: Server): Promise<void> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function json(res: ServerResponse, status: number, value: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(value));
}

function text(res: ServerResponse, value: string, status = 200): void {
  res.statusCode = status;
  res.setHeader('content-type', 'text/plain');
  res.end(value);
}
