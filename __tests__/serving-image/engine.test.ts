import { performance } from 'node:perf_hooks';
import { InferencePool } from '../../serving-image/src/engine/pool';
import { createLogger } from '../../serving-image/src/logger';
import { workerScript } from './helpers/build';
import { jsonBody, solidImage } from './helpers/images';
import { logSink, startTestServer } from './helpers/server';
import { buildTinyModel } from './helpers/tiny-model';

const poolOptions = { workerScript, workers: 1, intraOpThreads: 1, maxBatchSize: 1, maxQueueDelayMs: 0, maxQueueSize: 8, requestTimeoutMs: 10_000 };

describe('execution providers', () => {
  test('tensorrt and cuda fail to load here: each is logged with the reason and the CPU runs the model', async () => {
    // GIVEN the default order on a machine without CUDA libraries
    const { stream, logs } = logSink();
    // WHEN the pool starts
    const pool = await InferencePool.start({ ...poolOptions, model: buildTinyModel({ size: 32 }), executionProviders: ['tensorrt', 'cuda', 'cpu'], logger: createLogger('info', stream) });
    await pool.terminate();
    // THEN it runs on the CPU, after one warning per failed provider naming it and onnxruntime's reason
    expect(pool.model.provider).toBe('cpu');
    const warnings = logs.filter((l) => l.severity === 'WARNING');
    expect(warnings.map((w) => w.provider)).toEqual(['tensorrt', 'cuda']);
    expect(warnings[0].reason).toMatch(/TensorRT.*Failed to load shared library/);
    expect(warnings[1].reason).toMatch(/Cuda.*Failed to load shared library/);
  });

  test('when no listed provider loads, start fails with every reason', async () => {
    const { stream } = logSink();
    const start = InferencePool.start({ ...poolOptions, model: buildTinyModel({ size: 32 }), executionProviders: ['cuda'], logger: createLogger('info', stream) });
    await expect(start).rejects.toThrow(/no execution provider could run the model: cuda: .*Failed to load shared library/);
  });

  test('a file that is not an ONNX model fails start with onnxruntime\'s message', async () => {
    const { stream } = logSink();
    const start = InferencePool.start({ ...poolOptions, model: Buffer.from('not a model'), executionProviders: ['cpu'], logger: createLogger('info', stream) });
    await expect(start).rejects.toThrow(/cpu: .+/);
  });
});

describe('inference runs off the JavaScript thread', () => {
  test('health answers within 100 ms while inferences run', async () => {
    // GIVEN a model whose inference takes well over 100 ms, served on a real port
    const server = await startTestServer(buildTinyModel({ size: 640, heavyChannels: 48 }), { INTRA_OP_THREADS: '1' });
    try {
      const address = await server.serving.app.listen({ host: '127.0.0.1', port: 0 });
      const image = await solidImage([255, 0, 0], 640, 640);
      // WHEN four predictions are queued on one worker
      let pending = 4;
      const t0 = performance.now();
      const predictions = Array.from({ length: 4 }, () =>
        fetch(`${address}/predict`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: image }).then(async (r) => {
          pending--;
          return r.status;
        }),
      );
      // THEN health checks made meanwhile each answer 200 within 100 ms
      const healthTimes: number[] = [];
      while (pending > 0 && healthTimes.length < 20) {
        const h0 = performance.now();
        const res = await fetch(`${address}/health`);
        healthTimes.push(performance.now() - h0);
        expect(res.status).toBe(200);
        await new Promise((r) => setTimeout(r, 25));
      }
      expect(await Promise.all(predictions)).toEqual([200, 200, 200, 200]);
      const total = performance.now() - t0;
      // (the inferences really did take a while, so the health checks overlapped them)
      expect(total).toBeGreaterThan(300);
      expect(healthTimes.length).toBeGreaterThanOrEqual(3);
      expect(Math.max(...healthTimes)).toBeLessThan(100);
    } finally {
      await server.close();
    }
  });
});

describe('one request, several images', () => {
  test('runs each instance and keeps their order', async () => {
    const server = await startTestServer(buildTinyModel({ size: 32, names: true }), { WORKERS: '2' });
    try {
      const colours: [number, number, number][] = [[0, 0, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255]];
      const images = await Promise.all(colours.map((c) => solidImage(c, 32, 32)));
      const res = await server.serving.app.inject({ method: 'POST', url: '/predict', payload: jsonBody(images), headers: { 'content-type': 'application/json' } });
      expect(res.json().predictions.map((p: { detections: { class: string }[] }) => p.detections[0].class)).toEqual(['blue', 'red', 'green', 'blue']);
    } finally {
      await server.close();
    }
  });
});
