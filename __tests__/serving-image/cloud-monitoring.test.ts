import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  COMMON_LABELS,
  MONITORED_RESOURCE_TYPE,
  SERVER_METRICS,
  metricType,
} from '../../serving-image/src/metric-types';
import {
  FAKE_AUTHORIZATION,
  type FakeMonitoring,
  type WrittenTimeSeries,
  startFakeMonitoring,
} from './helpers/fake-monitoring';
import { solidImage } from './helpers/images';
import { type ServerProcess, spawnServer, waitForOk } from './helpers/process';
import { buildTinyModel } from './helpers/tiny-model';

jest.setTimeout(60_000);

/** Vertex AI's environment (https://cloud.google.com/vertex-ai/docs/predictions/custom-container-requirements#aip-variables), the stack's MODEL_VERSION, a 1 s export. */
const VERTEX_ENV = {
  AIP_MODE: 'PREDICTION',
  AIP_DEPLOYED_MODEL_ID: '456',
  AIP_ENDPOINT_ID: '123',
  AIP_PROJECT_NUMBER: '987654321',
  MODEL_VERSION: 'v2',
  CLOUD_MONITORING_INTERVAL_MS: '1000',
};

let fake: FakeMonitoring;
let server: ServerProcess | undefined;
let modelPath: string;

beforeAll(() => {
  modelPath = path.join(mkdtempSync(path.join(tmpdir(), 'otel-')), 'model.onnx');
  writeFileSync(modelPath, buildTinyModel({ size: 32 }));
});

beforeEach(async () => {
  fake = await startFakeMonitoring();
});

afterEach(async () => {
  if (server) {
    server.child.kill('SIGKILL');
    await server.exited;
    server = undefined;
  }
  await fake.close();
});

async function startServer(): Promise<string> {
  server = spawnServer({ ...VERTEX_ENV, ...fake.env, MODEL_PATH: modelPath });
  const url = await server.url;
  await waitForOk(`${url}/health`);
  return url;
}

function predict(url: string, body: Buffer | string, type = 'image/png'): Promise<number> {
  return fetch(`${url}/predict`, { method: 'POST', headers: { 'content-type': type }, body }).then((r) => r.status);
}

/** The series of the latest write holding `predicate`'s series, polling until one does. */
async function waitForWrite(predicate: (series: WrittenTimeSeries[]) => boolean): Promise<WrittenTimeSeries[]> {
  const end = Date.now() + 20_000;
  while (Date.now() < end) {
    const found = [...fake.writes].reverse().find((w) => predicate(w.timeSeries));
    if (found) return found.timeSeries;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no matching CreateTimeSeries call; got ${JSON.stringify(fake.writes).slice(0, 2000)}`);
}

const type = (name: keyof typeof SERVER_METRICS) => metricType(SERVER_METRICS[name]);
const count = (s: WrittenTimeSeries) =>
  Number(s.points[0].value.distributionValue?.count ?? s.points[0].value.int64Value ?? s.points[0].value.doubleValue);

test('on Vertex AI, the server writes every metric type to Cloud Monitoring, each point labelled with deployed model, endpoint, version, replica and provider', async () => {
  // GIVEN the server started with Vertex's environment against a Monitoring API stand-in
  const url = await startServer();
  // WHEN it answers two predictions and one malformed request
  expect(await predict(url, await solidImage([255, 0, 0], 32, 32))).toBe(200);
  expect(await predict(url, await solidImage([0, 255, 0], 32, 32))).toBe(200);
  expect(await predict(url, '{"instances": 3}', 'application/json')).toBe(400);
  // THEN an export holds every metric the server defines, under the project of AIP_PROJECT_NUMBER
  const series = await waitForWrite((ts) =>
    ts.some((s) => s.metric.type === type('requests') && s.metric.labels.code === 'INVALID_REQUEST'),
  );
  expect(fake.writes.at(-1)?.name).toBe('projects/987654321');
  expect(new Set(series.map((s) => s.metric.type))).toEqual(
    new Set(Object.values(SERVER_METRICS).map((m) => metricType(m))),
  );
  // AND each point carries the common labels (the provider once the model is loaded: health
  // checks answered while it loads say "none"), on a generic_task resource per replica
  for (const s of series) {
    expect(s.metric.labels).toMatchObject({
      deployed_model_id: '456',
      endpoint_id: '123',
      model_version: 'v2',
      execution_provider: s.metric.labels.route === 'health' ? expect.stringMatching(/^(none|cpu)$/) : 'cpu',
    });
    expect(Object.keys(s.metric.labels)).toEqual(expect.arrayContaining([...COMMON_LABELS]));
    expect(s.resource).toEqual({
      type: MONITORED_RESOURCE_TYPE,
      labels: { location: 'global', namespace: '123', job: '456', task_id: s.metric.labels.replica },
    });
  }
  // AND the values are those of the requests made, with the credentials of the metadata server
  const requests = series.filter((s) => s.metric.type === type('requests') && s.metric.labels.route === 'predict');
  expect(requests.map((s) => [s.metric.labels.status, s.metric.labels.code, count(s)]).sort()).toEqual([
    ['200', 'OK', 2],
    ['400', 'INVALID_REQUEST', 1],
  ]);
  expect(requests[0]).toMatchObject({ metricKind: 'CUMULATIVE', valueType: 'INT64' });
  const queueWait = series.find((s) => s.metric.type === type('queueWait'))!;
  expect(queueWait).toMatchObject({ metricKind: 'CUMULATIVE', valueType: 'DISTRIBUTION' });
  expect(count(queueWait)).toBe(2);
  const stages = series.filter((s) => s.metric.type === type('stageDuration'));
  expect(Object.fromEntries(stages.map((s) => [s.metric.labels.stage, count(s)]))).toEqual({
    preprocess: 2,
    input: expect.any(Number),
    inference: expect.any(Number),
    postprocess: expect.any(Number),
  });
  const batches = series.find((s) => s.metric.type === type('batchSize'))!;
  expect(count(batches) * batches.points[0].value.distributionValue!.mean).toBe(2);
  expect(series.find((s) => s.metric.type === type('queueDepth'))).toMatchObject({
    metricKind: 'GAUGE',
    points: [{ value: { int64Value: '0' } }],
  });
  expect(count(series.find((s) => s.metric.type === type('workerRestarts'))!)).toBe(0);
  expect(new Set(fake.authorizations)).toEqual(new Set([FAKE_AUTHORIZATION]));
  // AND the exporter's deprecation warning is a JSON line like every other, nothing on stderr
  expect(server!.lines.filter((l) => l.stream === 'stderr')).toEqual([]);
});

test('a failing export is one WARNING line per 5 minutes and predictions are unaffected', async () => {
  // GIVEN a Monitoring API refusing every write (a serving account without monitoring.metricWriter)
  fake.failWith = 403;
  const url = await startServer();
  // WHEN predictions are answered while exports fail for several intervals
  const statuses = [];
  for (let i = 0; i < 4; i++) {
    statuses.push(await predict(url, await solidImage([0, 0, 255], 32, 32)));
    await new Promise((r) => setTimeout(r, 1000));
  }
  // THEN the predictions succeed
  expect(statuses).toEqual([200, 200, 200, 200]);
  // AND several exports failed, but one WARNING says so, naming the API's answer
  expect(fake.authorizations.length).toBeGreaterThanOrEqual(3);
  const warnings = server!.logs.filter((l) => l.severity === 'WARNING' && /Cloud Monitoring/.test(String(l.message)));
  expect(warnings).toEqual([
    expect.objectContaining({
      message: 'metrics export to Cloud Monitoring failed; serving is unaffected',
      failedExports: 1,
      err: expect.stringMatching(/monitoring\.timeSeries\.create denied/),
      nextWarningInSeconds: 300,
    }),
  ]);
});

test('off by default outside Vertex AI: no export, /metrics still counts', async () => {
  // GIVEN the server started without the AIP_* environment, the stand-in's address given
  server = spawnServer({ ...fake.env, CLOUD_MONITORING_INTERVAL_MS: '1000', MODEL_PATH: modelPath });
  const url = await server.url;
  await waitForOk(`${url}/health`);
  // WHEN it answers a prediction and two export intervals pass
  expect(await predict(url, await solidImage([255, 0, 0], 32, 32))).toBe(200);
  await new Promise((r) => setTimeout(r, 2500));
  // THEN nothing was written to Cloud Monitoring, and /metrics counted the request
  expect(fake.authorizations).toEqual([]);
  expect(await fetch(`${url}/metrics`).then((r) => r.text())).toContain(
    'serving_http_requests_total{route="predict",status="200"} 1',
  );
});
