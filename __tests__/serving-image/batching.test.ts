import { connect, type Socket } from 'node:net';
import { type Worker } from 'node:worker_threads';
import { jsonBody, solidImage } from './helpers/images';
import { startTestServer, type TestServer } from './helpers/server';
import { buildTinyModel } from './helpers/tiny-model';

const JSON_TYPE = { 'content-type': 'application/json' };
type Res = {
  statusCode: number;
  headers: Record<string, unknown>;
  json: () => { predictions: { detections: { class: string; confidence: number }[] }[]; error: { code: string } };
};

async function postImage(server: TestServer, image: Buffer): Promise<Res> {
  return (await server.serving.app.inject({
    method: 'POST',
    url: '/predict',
    payload: image,
    headers: { 'content-type': 'image/png' },
  })) as unknown as Res;
}

/** One sample of a metric from /metrics, by name and labels. */
async function metric(server: TestServer, sample: string): Promise<number> {
  const text = (await server.serving.app.inject({ url: '/metrics' })).body;
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? NaN : Number(line.slice(sample.length + 1));
}

/** Waits until the pool reaches a state (a behaviour to wait for, not a guessed sleep). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

describe('dynamic batching', () => {
  test('concurrent requests are grouped into one session.run and each gets its own result', async () => {
    // GIVEN the dynamic-batch model, one worker, batches of up to 4 held up to 10 s (longer than
    // the test's timeout: the test only finishes if the fourth image fills the batch)
    const server = await startTestServer(buildTinyModel({ size: 32, dynamicBatch: true, names: true }), {
      MAX_BATCH_SIZE: '4',
      MAX_QUEUE_DELAY_MS: '10000',
    });
    try {
      expect(server.pool.model.maxBatch).toBe(4);
      const colours: [number, number, number][] = [
        [0, 255, 0],
        [255, 0, 0],
        [0, 0, 255],
        [0, 0, 128],
      ];
      const images = await Promise.all(colours.map((c) => solidImage(c, 32, 32)));
      // WHEN four requests arrive together
      const results = await Promise.all(images.map((img) => postImage(server, img)));
      // THEN they ran as one batch of 4
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
    const server = await startTestServer(buildTinyModel({ size: 32, dynamicBatch: true }), {
      MAX_BATCH_SIZE: '8',
      MAX_QUEUE_DELAY_MS: '150',
    });
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
      await server.serving.app.inject({
        method: 'POST',
        url: '/predict',
        payload: jsonBody(images),
        headers: JSON_TYPE,
      });
      expect([
        server.pool.model.maxBatch,
        await metric(server, 'serving_batch_size_count'),
        await metric(server, 'serving_batch_size_sum'),
      ]).toEqual([1, 4, 4]);
    } finally {
      await server.close();
    }
  });
});

describe('backpressure', () => {
  // About 300 ms per inference: long enough for the queue to fill.
  const slowModel = buildTinyModel({ size: 640, heavyChannels: 48 });

  test('a full queue answers 429 with Retry-After at once', async () => {
    // GIVEN one worker and room for two queued images (images being decoded count too)
    const server = await startTestServer(slowModel, { MAX_QUEUE_SIZE: '2', MAX_INSTANCES: '2' });
    try {
      const image = await solidImage([255, 0, 0], 640, 640);
      // WHEN one request runs and one waits in the queue
      const running = postImage(server, image);
      await until(() => server.pool.inFlight === 1);
      const waiting = postImage(server, image);
      await until(() => server.pool.queueDepth === 1);
      // THEN a two-image request, larger than the free room, is refused before any decoding
      const big = await server.serving.app.inject({
        method: 'POST',
        url: '/predict',
        payload: jsonBody([image, image]),
        headers: JSON_TYPE,
      });
      expect([big.statusCode, big.headers['retry-after']]).toEqual([429, '1']);
      // WHEN a second one waits, filling the queue, and another arrives
      const waiting2 = postImage(server, image);
      await until(() => server.pool.queueDepth === 2);
      const refused = await postImage(server, image);
      // THEN it is refused at once with 429 QUEUE_FULL and Retry-After, and the others are served
      expect([refused.statusCode, refused.json().error.code, refused.headers['retry-after']]).toEqual([
        429,
        'QUEUE_FULL',
        '1',
      ]);
      expect([(await running).statusCode, (await waiting).statusCode, (await waiting2).statusCode]).toEqual([
        200, 200, 200,
      ]);
    } finally {
      await server.close();
    }
  });

  test('stalled uploads take no queue room, and past MAX_UPLOADS the oldest is cut (408) for a newer request', async () => {
    // GIVEN room for two images and two upload slots
    const server = await startTestServer(buildTinyModel({ size: 32 }), {
      MAX_QUEUE_SIZE: '2',
      MAX_INSTANCES: '2',
      MAX_UPLOADS: '2',
    });
    const sockets: Socket[] = [];
    try {
      const address = new URL(await server.serving.app.listen({ host: '127.0.0.1', port: 0 }));
      const image = await solidImage([255, 0, 0], 32, 32);
      /** Polls /metrics (which takes no queue room) until `sample` reads `value`. */
      const untilMetric = async (sample: string, value: number) => {
        for (let i = 0; i < 1000 && (await metric(server, sample)) !== value; i++)
          await new Promise((r) => setTimeout(r, 5));
        expect(await metric(server, sample)).toBe(value);
      };
      // WHEN two clients send their headers and the start of a body, then stall
      const answers: Promise<string>[] = [];
      for (let i = 0; i < 2; i++) {
        const socket = connect(Number(address.port), address.hostname);
        socket.write(
          `POST /predict HTTP/1.1\r\nhost: x\r\ncontent-type: image/png\r\ncontent-length: ${image.length}\r\n\r\n`,
        );
        socket.write(image.subarray(0, 10));
        let received = '';
        socket.on('data', (d) => (received += d.toString()));
        answers.push(new Promise((resolve) => socket.on('close', () => resolve(received))));
        sockets.push(socket);
      }
      await untilMetric('serving_uploads_in_progress', 2);
      // THEN, once they have lasted a while, a new request is served: the oldest stalled upload is cut
      await new Promise((r) => setTimeout(r, 1100));
      expect((await postImage(server, image)).statusCode).toBe(200);
      const cut = await Promise.race(answers);
      expect(cut).toMatch(/^HTTP\/1\.1 408 /);
      expect(cut).toContain('"code":"REQUEST_TIMEOUT"');
      // WHEN the other stalled client goes away THEN no upload is counted any more
      for (const socket of sockets) socket.destroy();
      await untilMetric('serving_uploads_in_progress', 0);
    } finally {
      for (const socket of sockets) socket.destroy();
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
      // AND both queue waits were recorded, the timed-out one too (about REQUEST_TIMEOUT_MS: timers may fire a fraction of a ms early)
      expect(await metric(server, 'serving_queue_wait_seconds_count')).toBe(2);
      expect(await metric(server, 'serving_queue_wait_seconds_sum')).toBeGreaterThan(0.025);
    } finally {
      await server.close();
    }
  });
});

/**
 * Makes the pool's first worker die right after it is handed work (reaching into the pool: a
 * thread must die while holding work; terminating it inside onnxruntime's native run would abort
 * the whole process, so it dies before the run starts, while filling the input tensor).
 */
function killFirstWorkerOnHandOff(server: TestServer): void {
  const { supervisor } = server.pool as unknown as { supervisor: { slots: { worker: Worker }[] } };
  const worker = supervisor.slots[0].worker;
  const post = worker.postMessage.bind(worker);
  worker.postMessage = (msg: unknown, transfer?: readonly ArrayBuffer[]) => {
    post(msg, transfer);
    void worker.terminate();
  };
}

describe('worker failure', () => {
  test('a worker that dies is replaced; the request it held gets a 503, not a hang', async () => {
    const server = await startTestServer(buildTinyModel({ size: 640, heavyChannels: 24 }));
    try {
      const image = await solidImage([255, 0, 0], 640, 640);
      // GIVEN a worker that dies right after it is handed an image
      killFirstWorkerOnHandOff(server);
      // WHEN a request arrives
      const res = await postImage(server, image);
      // THEN the request is answered 503 WORKER_FAILED
      expect([res.statusCode, res.json().error.code]).toEqual([503, 'WORKER_FAILED']);
      // AND while no worker is ready, health is 503 (Vertex AI stops routing here)
      expect((await server.serving.app.inject({ url: '/health' })).json()).toEqual({ status: 'no_worker' });
      // AND a replacement worker comes up and serves the next request
      await until(() => server.pool.healthy);
      expect((await server.serving.app.inject({ url: '/health' })).statusCode).toBe(200);
      const next = await postImage(server, image);
      expect(next.statusCode).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe('a request whose image fails drops its other queued images', () => {
  test("the first image's worker dies: the request gets 503 and its two queued siblings are never inferred", async () => {
    // GIVEN one worker that dies right after it is handed its first image (as in the test above)
    const server = await startTestServer(buildTinyModel({ size: 640, heavyChannels: 24 }), { MAX_INSTANCES: '3' });
    try {
      const image = await solidImage([255, 0, 0], 640, 640);
      killFirstWorkerOnHandOff(server);
      // WHEN a three-image request arrives (image 0 runs, images 1 and 2 queue)
      const res = await server.serving.app.inject({
        method: 'POST',
        url: '/predict',
        payload: jsonBody([image, image, image]),
        headers: JSON_TYPE,
      });
      // THEN it is answered 503 and its two other images have left the queue at once
      expect([res.statusCode, res.json().error.code]).toEqual([503, 'WORKER_FAILED']);
      expect(server.pool.queueDepth).toBe(0);
      expect(await metric(server, 'serving_queue_wait_seconds_count')).toBe(3);
      // AND once the replacement is up, none of them was inferred
      await until(() => server.pool.healthy);
      expect(await metric(server, 'serving_images_total')).toBe(0);
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
      await server.serving.app.inject({
        method: 'POST',
        url: '/predict',
        payload: jsonBody([red, red]),
        headers: JSON_TYPE,
      });
      await server.serving.app.inject({ method: 'POST', url: '/predict', payload: '{', headers: JSON_TYPE });
      await server.serving.app.inject({ url: '/health' });
      expect(await metric(server, 'serving_http_requests_total{route="predict",status="200"}')).toBe(2);
      expect(await metric(server, 'serving_http_requests_total{route="predict",status="400"}')).toBe(1);
      expect(await metric(server, 'serving_http_requests_total{route="health",status="200"}')).toBe(1);
      expect(await metric(server, 'serving_images_total')).toBe(3);
      expect(await metric(server, 'serving_request_duration_seconds_count')).toBe(3);
      for (const stage of ['queue_wait', 'preprocess', 'input', 'inference', 'postprocess'])
        expect(await metric(server, `serving_${stage}_seconds_count`)).toBe(3);
      expect(await metric(server, 'serving_queue_depth')).toBe(0);
      // AND latency buckets reach 60 s (a request can wait REQUEST_TIMEOUT_MS, 30 s by default)
      expect(await metric(server, 'serving_request_duration_seconds_bucket{le="60"}')).toBe(3);
    } finally {
      await server.close();
    }
  });
});
