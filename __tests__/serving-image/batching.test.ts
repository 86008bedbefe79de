import type { Worker } from 'node:worker_threads';
import { jsonBody, solidImage } from './helpers/images';
import { startTestServer, TestServer } from './helpers/server';
import { buildTinyModel } from './helpers/tiny-model';

const JSON_TYPE = { 'content-type': 'application/json' };
type Res = { statusCode: number; headers: Record<string, unknown>; json: () => { predictions: { detections: { class: string; confidence: number }[] }[]; error: { code: string } } };

async function postImage(server: TestServer, image: Buffer): Promise<Res> {
  return (await server.serving.app.inject({ method: 'POST', url: '/predict', payload: image, headers: { 'content-type': 'image/png' } })) as unknown as Res;
}

/** One sample of a metric from /metrics, by name and labels. */
async function metric(server: TestServer, sample: string): Promise<number> {
  const text = (await server.serving.app.inject({ url: '/metrics' })).body;
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? NaN : Number(line.slice(sample.length + 1));
}

describe('dynamic batching', () => {
  test('concurrent requests are grouped into one session.run and each gets its own result', async () => {
    // GIVEN the dynamic-batch model, one worker, batches of up to 4 held up to 2 s
    const server = await startTestServer(buildTinyModel({ size: 32, dynamicBatch: true, names: true }), { MAX_BATCH_SIZE: '4', MAX_QUEUE_DELAY_MS: '2000' });
    try {
      expect(server.pool.model.maxBatch).toBe(4);
      const colours: [number, number, number][] = [[0, 255, 0], [255, 0, 0], [0, 0, 255], [0, 0, 128]];
      const images = await Promise.all(colours.map((c) => solidImage(c, 32, 32)));
      // WHEN four requests arrive together
      const t0 = Date.now();
      const results = await Promise.all(images.map((img) => postImage(server, img)));
      // THEN they ran as one batch of 4, long before the 2 s delay (the fourth image filled the batch)
      expect(Date.now() - t0).toBeLessThan(1500);
      expect(await metric(server, 'serving_batch_size_count')).toBe(1);
      expect(await metric(server, 'serving_batch_size_sum')).toBe(4);
      // AND each request got its own image's result, the dark blue one at half confidence
      expect(results.map((r) => r.json().predictions[0].detections[0].class)).toEqual(['green', 'red', 'blue', 'blue']);
      expect(results[3].json().predictions[0].detections[0].confidence).toBeCloseTo(128 / 255, 4);
    } finally {
      await server.close();
    }
  });

  test('a partial batch runs once the oldest image has waited MAX_QUEUE_DELAY_MS', async () => {
    const server = await startTestServer(buildTinyModel({ size: 32, dynamicBatch: true }), { MAX_BATCH_SIZE: '8', MAX_QUEUE_DELAY_MS: '150' });
    try {
      const t0 = Date.now();
      const res = await postImage(server, await solidImage([255, 0, 0], 32, 32));
      expect(res.statusCode).toBe(200);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
    } finally {
      await server.close();
    }
  });

  test('a batch-1 model runs one image per call, spread over the workers', async () => {
    const server = await startTestServer(buildTinyModel({ size: 32 }), { WORKERS: '2', MAX_BATCH_SIZE: '8' });
    try {
      const images = await Promise.all(Array.from({ length: 4 }, () => solidImage([255, 0, 0], 32, 32)));
      await server.serving.app.inject({ method: 'POST', url: '/predict', payload: jsonBody(images), headers: JSON_TYPE });
      expect([server.pool.model.maxBatch, await metric(server, 'serving_batch_size_count'), await metric(server, 'serving_batch_size_sum')]).toEqual([1, 4, 4]);
    } finally {
      await server.close();
    }
  });
});

describe('backpressure', () => {
  // About 300 ms per inference: long enough for the queue to fill.
  const slowModel = buildTinyModel({ size: 640, heavyChannels: 48 });

  test('a full queue answers 429 with Retry-After at once', async () => {
    // GIVEN one worker and room for one queued image (images being decoded count too)
    const server = await startTestServer(slowModel, { MAX_QUEUE_SIZE: '1' });
    try {
      const image = await solidImage([255, 0, 0], 640, 640);
      // WHEN one request runs, a second waits in the queue, and a third arrives
      const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
      const running = postImage(server, image);
      await sleep(100);
      const waiting = postImage(server, image);
      await sleep(50);
      const refused = await postImage(server, image);
      // THEN the third is refused at once with 429 QUEUE_FULL and Retry-After, the others are served
      expect([refused.statusCode, refused.json().error.code, refused.headers['retry-after']]).toEqual([429, 'QUEUE_FULL', '1']);
      expect([(await running).statusCode, (await waiting).statusCode]).toEqual([200, 200]);
      // AND a request larger than the free room is refused before any decoding
      const big = await server.serving.app.inject({ method: 'POST', url: '/predict', payload: jsonBody([image, image]), headers: JSON_TYPE });
      expect(big.statusCode).toBe(429);
    } finally {
      await server.close();
    }
  });

  test('an image queued longer than REQUEST_TIMEOUT_MS is answered 503 and dropped', async () => {
    const server = await startTestServer(slowModel, { REQUEST_TIMEOUT_MS: '30' });
    try {
      const image = await solidImage([255, 0, 0], 640, 640);
      const results = await Promise.all([0, 1].map(() => postImage(server, image)));
      const timedOut = results.find((r) => r.statusCode === 503)!;
      expect(results.map((r) => r.statusCode).sort()).toEqual([200, 503]);
      expect(timedOut.json().error.code).toBe('QUEUE_TIMEOUT');
      // AND only one image was ever inferred
      expect(await metric(server, 'serving_images_total')).toBe(1);
    } finally {
      await server.close();
    }
  });
});

describe('worker failure', () => {
  test('a worker that dies is replaced; the request it held gets a 503, not a hang', async () => {
    const server = await startTestServer(buildTinyModel({ size: 640, heavyChannels: 24 }));
    try {
      const image = await solidImage([255, 0, 0], 640, 640);
      // GIVEN a worker that dies right after it is handed an image (reaching into the pool: a
      // thread must die while holding work; terminating it inside onnxruntime's native run would
      // abort the whole process, so it dies before the run starts, while filling the input tensor)
      const worker = (server.pool as unknown as { slots: { worker: Worker }[] }).slots[0].worker;
      const post = worker.postMessage.bind(worker);
      worker.postMessage = (msg: unknown, transfer?: readonly ArrayBuffer[]) => {
        post(msg, transfer);
        void worker.terminate();
      };
      // WHEN a request arrives
      const res = await postImage(server, image);
      // THEN the request is answered 503 WORKER_FAILED
      expect([res.statusCode, res.json().error.code]).toEqual([503, 'WORKER_FAILED']);
      // AND a replacement worker serves the next request
      const next = await postImage(server, image);
      expect(next.statusCode).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe('/metrics', () => {
  test('counts requests by route and status, images, and stage timings', async () => {
    const server = await startTestServer(buildTinyModel({ size: 32 }));
    try {
      const red = await solidImage([255, 0, 0], 32, 32);
      await postImage(server, red);
      await server.serving.app.inject({ method: 'POST', url: '/predict', payload: jsonBody([red, red]), headers: JSON_TYPE });
      await server.serving.app.inject({ method: 'POST', url: '/predict', payload: '{', headers: JSON_TYPE });
      await server.serving.app.inject({ url: '/health' });
      expect(await metric(server, 'serving_http_requests_total{route="predict",status="200"}')).toBe(2);
      expect(await metric(server, 'serving_http_requests_total{route="predict",status="400"}')).toBe(1);
      expect(await metric(server, 'serving_http_requests_total{route="health",status="200"}')).toBe(1);
      expect(await metric(server, 'serving_images_total')).toBe(3);
      expect(await metric(server, 'serving_request_duration_seconds_count')).toBe(3);
      for (const stage of ['queue_wait', 'preprocess', 'inference', 'postprocess']) expect(await metric(server, `serving_${stage}_seconds_count`)).toBe(3);
      expect(await metric(server, 'serving_queue_depth')).toBe(0);
      expect(await metric(server, 'serving_images_per_second')).toBeCloseTo(0.3, 5);
    } finally {
      await server.close();
    }
  });
});
