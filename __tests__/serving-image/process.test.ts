import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { solidImage } from './helpers/images';
import { startFakeGcs } from './helpers/fake-gcs';
import { freePort, type ServerProcess, spawnServer, waitForOk } from './helpers/process';
import { buildTinyModel } from './helpers/tiny-model';

const ROUTES = {
  AIP_HEALTH_ROUTE: '/v1/endpoints/123/deployedModels/456',
  AIP_PREDICT_ROUTE: '/v1/endpoints/123/deployedModels/456:predict',
};

describe('the server process (dist/main.js)', () => {
  test('loads the model from AIP_STORAGE_URI, serves the AIP routes on AIP_HTTP_PORT and metrics on METRICS_PORT, exits 0 on SIGTERM', async () => {
    // GIVEN a Cloud Storage fake holding the tiny model (no names metadata) and a labels file
    const gcs = await startFakeGcs({
      'b/artifacts/model.onnx': buildTinyModel({ size: 32 }),
      'b/artifacts/labels.txt': 'rouge\nvert\nbleu\n',
    });
    try {
      // WHEN the server starts with Vertex's environment
      const metricsPort = await freePort();
      const server = spawnServer({
        ...ROUTES,
        AIP_STORAGE_URI: 'gs://b/artifacts',
        STORAGE_EMULATOR_HOST: gcs.host,
        METRICS_PORT: String(metricsPort),
      });
      const url = await server.url;
      // THEN health turns 200 on the custom route once the model is warm
      const statuses = await waitForOk(`${url}${ROUTES.AIP_HEALTH_ROUTE}`);
      expect(statuses.filter((s) => s !== 503 && s !== 200)).toEqual([]);
      // AND predictions on the custom route use the labels file's names
      const res = await fetch(`${url}${ROUTES.AIP_PREDICT_ROUTE}`, {
        method: 'POST',
        headers: { 'content-type': 'image/png' },
        body: await solidImage([0, 255, 0], 32, 32),
      });
      expect(
        ((await res.json()) as { predictions: { detections: { class: string }[] }[] }).predictions[0].detections[0]
          .class,
      ).toBe('vert');
      // AND /metrics is on METRICS_PORT only, counting that prediction
      expect(await fetch(`${url}/metrics`).then((r) => r.status)).toBe(404);
      const metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.text());
      expect(metrics).toContain('serving_http_requests_total{route="predict",status="200"} 1');
      // AND every log line is JSON with a Cloud Logging severity
      expect(server.logs.every((l) => typeof l.severity === 'string' && typeof l.message === 'string')).toBe(true);
      // AND the ready line says which thread layout this replica runs
      expect(server.logs.find((l) => l.message === 'ready')).toMatchObject({
        model: 'gs://b/artifacts/model.onnx',
        classNames: 'labels file',
        profile: 'latency',
        workers: expect.any(Number),
        intraOpThreads: expect.any(Number),
      });
      // WHEN SIGTERM arrives THEN it exits 0
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    } finally {
      await gcs.close();
    }
  });

  test('a missing model is a clear startup error: exit 1, health never 200', async () => {
    const server = spawnServer({ MODEL_PATH: 'missing/model.onnx' });
    const url = await server.url;
    const health = await fetch(`${url}/health`).then(
      (r) => r.status,
      () => 0,
    );
    expect(await server.exited).toBe(1);
    expect([0, 503]).toContain(health);
    expect(server.logs.find((l) => l.severity === 'CRITICAL')?.message).toMatch(
      /cannot load the model: cannot read the model missing\/model.onnx: ENOENT/,
    );
  });

  test('TENSORRT_PRECISION=int8 with a model that has no QDQ nodes is a startup error: exit 1', async () => {
    // GIVEN a float model and the TensorRT provider listed
    const dir = mkdtempSync(path.join(tmpdir(), 'serving-'));
    writeFileSync(path.join(dir, 'm.onnx'), buildTinyModel({ size: 32 }));
    // WHEN the server starts asking for INT8 engines
    const server = spawnServer({
      MODEL_PATH: path.join(dir, 'm.onnx'),
      EXECUTION_PROVIDERS: 'tensorrt,cpu',
      TENSORRT_PRECISION: 'int8',
      TENSORRT_CACHE_DIR: dir,
    });
    // THEN it exits 1 saying what int8 needs
    expect(await server.exited).toBe(1);
    expect(server.logs.find((l) => l.severity === 'CRITICAL')?.message).toMatch(
      /cannot load the model: TENSORRT_PRECISION=int8 needs a QDQ-quantized model/,
    );
  });

  test('with TENSORRT_CACHE_URI on a machine without GPU, it serves on the next provider and leaves the cache alone', async () => {
    // GIVEN the model in a Cloud Storage fake and a cache folder beside it
    const gcs = await startFakeGcs({ 'b/artifacts/model.onnx': buildTinyModel({ size: 32 }) });
    try {
      // WHEN the server starts with the TensorRT provider first and a shared engine cache
      const server = spawnServer({
        AIP_STORAGE_URI: 'gs://b/artifacts',
        STORAGE_EMULATOR_HOST: gcs.host,
        EXECUTION_PROVIDERS: 'tensorrt,cpu',
        TENSORRT_CACHE_URI: 'gs://b/artifacts/tensorrt-cache/',
        TENSORRT_CACHE_DIR: mkdtempSync(path.join(tmpdir(), 'ort-trt-')),
      });
      const url = await server.url;
      await waitForOk(`${url}/health`);
      // THEN it warns that the engines' identity is unknown here, and never reads or writes the cache
      expect(server.logs.find((l) => Array.isArray(l.unknown))).toMatchObject({
        severity: 'WARNING',
        unknown: ['gpu', 'tensorrt'],
      });
      expect(gcs.requests.filter((r) => r.includes('tensorrt-cache') || r.startsWith('/upload/'))).toEqual([]);
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    } finally {
      await gcs.close();
    }
  });

  test('a port already in use is one fatal JSON line and exit 2', async () => {
    // GIVEN a port something else listens on
    const blocker = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    try {
      // WHEN the server is started on it
      const server = spawnServer({
        MODEL_PATH: 'missing/model.onnx',
        AIP_HTTP_PORT: String((blocker.address() as AddressInfo).port),
      });
      // THEN it exits 2 with a CRITICAL line naming the problem
      expect(await server.exited).toBe(2);
      expect(server.logs.find((l) => l.severity === 'CRITICAL')).toMatchObject({
        code: 'EADDRINUSE',
        message: expect.stringMatching(/^cannot listen: .*EADDRINUSE/),
      });
    } finally {
      blocker.close();
    }
  });

  test('invalid configuration lists every problem and exits 2 before listening', async () => {
    const server = spawnServer({ AIP_HTTP_PORT: 'eighty', EXECUTION_PROVIDERS: 'cpu,gpu', WORKERS: '0' });
    expect(await server.exited).toBe(2);
    const problems = server.logs[0].problems as string[];
    expect(problems).toEqual([
      expect.stringMatching(/^no model: set MODEL_PATH/),
      expect.stringMatching(/^EXECUTION_PROVIDERS="cpu,gpu": "gpu" unknown/),
      'WORKERS="0": must be an integer from 1 to 64',
      'AIP_HTTP_PORT="eighty": must be an integer from 0 to 65535',
    ]);
  });

  test('SIGTERM under load: health turns 503 at once, new predictions get 503, every accepted one is answered, exit 0', async () => {
    // GIVEN a server whose inferences take about 150 ms each, on one worker
    const dir = mkdtempSync(path.join(tmpdir(), 'serving-'));
    writeFileSync(path.join(dir, 'slow.onnx'), buildTinyModel({ size: 640, heavyChannels: 24 }));
    const server = spawnServer({ MODEL_PATH: path.join(dir, 'slow.onnx'), SHUTDOWN_TIMEOUT_MS: '20000' });
    const url = await server.url;
    await waitForOk(`${url}/health`);
    const image = await solidImage([255, 0, 0], 640, 640);
    const predict = () =>
      fetch(`${url}/predict`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: image }).then(
        (r) => r.status,
      );
    // WHEN five predictions are accepted (one running, four queued, read from /metrics) ...
    const accepted = Array.from({ length: 5 }, predict);
    const metric = (text: string, name: string) =>
      Number(
        text
          .split('\n')
          .find((l) => l.startsWith(`${name} `))
          ?.split(' ')[1],
      );
    for (;;) {
      const text = await fetch(`${url}/metrics`).then((r) => r.text());
      const [queued, done] = [metric(text, 'serving_queue_depth'), metric(text, 'serving_images_total')];
      // A queued image means the one worker is busy with another: queued + done + 1 were accepted.
      if (queued > 0 && queued + done + 1 === 5) break;
      expect(done).toBeLessThan(4); // else the inferences were too quick for this test to catch them queued
      await new Promise((r) => setTimeout(r, 10));
    }
    // ... and SIGTERM arrives while they run (the server logs that it starts draining)
    server.child.kill('SIGTERM');
    while (!server.logs.some((l) => String(l.message).startsWith('shutting down')))
      await new Promise((r) => setTimeout(r, 5));
    // THEN health is 503 and a new prediction is refused with 503 while the accepted ones finish
    expect(await fetch(`${url}/health`).then((r) => r.status)).toBe(503);
    expect(await predict()).toBe(503);
    // AND every accepted prediction is answered 200, and the process exits 0
    expect(await Promise.all(accepted)).toEqual([200, 200, 200, 200, 200]);
    expect(await server.exited).toBe(0);
  });

  test('a start without CUDA writes only JSON lines with a severity, on stdout and stderr', async () => {
    // GIVEN the default providers (TensorRT and CUDA fail to load on this machine)
    const dir = mkdtempSync(path.join(tmpdir(), 'serving-'));
    writeFileSync(path.join(dir, 'm.onnx'), buildTinyModel({ size: 32 }));
    const server = spawnServer({ MODEL_PATH: path.join(dir, 'm.onnx'), EXECUTION_PROVIDERS: 'tensorrt,cuda,cpu' });
    // WHEN it starts, serves and stops
    await waitForOk(`${await server.url}/health`);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    // THEN every line it wrote parses as JSON with a severity
    const bad = server.lines.filter(({ text }) => {
      try {
        return typeof (JSON.parse(text) as { severity?: unknown }).severity !== 'string';
      } catch {
        return true;
      }
    });
    expect(bad).toEqual([]);
  });
});

/** A server on a model whose inferences take about 150 ms each, on one worker. */
async function slowServer(env: Record<string, string>): Promise<{ server: ServerProcess; url: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'serving-'));
  writeFileSync(path.join(dir, 'slow.onnx'), buildTinyModel({ size: 640, heavyChannels: 24 }));
  const server = spawnServer({ MODEL_PATH: path.join(dir, 'slow.onnx'), ...env });
  const url = await server.url;
  await waitForOk(`${url}/health`, 30_000);
  return { server, url };
}

/** Resolves once the server has written a log line whose message starts with `prefix`. */
async function logged(server: ServerProcess, prefix: string): Promise<void> {
  while (!server.logs.some((l) => String(l.message).startsWith(prefix))) await new Promise((r) => setTimeout(r, 5));
}

describe('shutdown', () => {
  test('a stalled upload does not hold SIGTERM: the process exits 0 soon, without claiming accepted work was lost', async () => {
    // GIVEN a server with a long SHUTDOWN_TIMEOUT_MS and an upload that stalled after its headers
    const server = spawnServer({ MODEL_PATH: await tinyModelFile(), SHUTDOWN_TIMEOUT_MS: '60000' });
    const url = new URL(await server.url);
    await waitForOk(`${url.origin}/health`);
    const socket = connect(Number(url.port), url.hostname);
    socket.on('error', () => {});
    socket.write('POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\nabc');
    try {
      while (!(await fetch(`${url.origin}/metrics`).then((r) => r.text())).includes('serving_uploads_in_progress 1'))
        await new Promise((r) => setTimeout(r, 10));
      // WHEN SIGTERM arrives
      const started = Date.now();
      server.child.kill('SIGTERM');
      // THEN it exits 0 within seconds, not after SHUTDOWN_TIMEOUT_MS
      expect(await server.exited).toBe(0);
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(server.logs.filter((l) => l.severity === 'ERROR')).toEqual([]);
    } finally {
      socket.destroy();
    }
  });

  test('a connection accepted during the drain that sends its request as the listener closes gets 503 SHUTTING_DOWN, not a reset', async () => {
    // GIVEN a slow server with three predictions accepted
    const { server, url } = await slowServer({ SHUTDOWN_TIMEOUT_MS: '30000' });
    const image = await solidImage([255, 0, 0], 640, 640);
    const accepted = Array.from({ length: 3 }, () =>
      fetch(`${url}/predict`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: image }).then(
        (r) => r.status,
      ),
    );
    while (!(await fetch(`${url}/metrics`).then((r) => r.text())).match(/serving_queue_depth [12]\n/))
      await new Promise((r) => setTimeout(r, 10));
    // WHEN SIGTERM arrives, and a client connects during the drain but sends nothing yet
    server.child.kill('SIGTERM');
    await logged(server, 'shutting down');
    const { port, hostname } = new URL(url);
    const socket: Socket = connect(Number(port), hostname);
    socket.on('error', () => {});
    await new Promise((r) => socket.once('connect', r));
    let answer = '';
    socket.on('data', (d) => (answer += d.toString()));
    const closed = new Promise((r) => socket.once('close', r));
    // ... and sends its request once the accepted predictions are answered and the listener closes
    await logged(server, 'accepted predictions answered');
    socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    await closed;
    // THEN it is answered 503 SHUTTING_DOWN-style (health says shutting_down), and the accepted ones 200
    expect(answer).toMatch(/^HTTP\/1\.1 503 /);
    expect(answer).toContain('shutting_down');
    expect(await Promise.all(accepted)).toEqual([200, 200, 200]);
    expect(await server.exited).toBe(0);
  });

  test.each([1, 2, 3])('SHUTDOWN_TIMEOUT_MS expiring during an inference exits 1, not SIGABRT (run %i)', async () => {
    // GIVEN a slow server with predictions running and queued
    const { server, url } = await slowServer({ SHUTDOWN_TIMEOUT_MS: '200' });
    const image = await solidImage([255, 0, 0], 640, 640);
    const requests = Array.from({ length: 4 }, () =>
      fetch(`${url}/predict`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: image }).then(
        (r) => r.status,
        () => 0,
      ),
    );
    while (!(await fetch(`${url}/metrics`).then((r) => r.text())).match(/serving_queue_depth [123]\n/))
      await new Promise((r) => setTimeout(r, 10));
    // WHEN SIGTERM arrives and the timeout expires while an inference runs
    server.child.kill('SIGTERM');
    // THEN the process exits 1 (the documented code), with the reason logged
    expect(await server.exited).toBe(1);
    expect(server.logs.some((l) => String(l.message).includes('SHUTDOWN_TIMEOUT_MS'))).toBe(true);
    await Promise.all(requests);
  });
});

async function tinyModelFile(): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'serving-'));
  writeFileSync(path.join(dir, 'm.onnx'), buildTinyModel({ size: 32 }));
  return path.join(dir, 'm.onnx');
}
