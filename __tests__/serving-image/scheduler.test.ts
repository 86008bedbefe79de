import { ServingError } from '../../serving-image/src/errors';
import { type BatchOutput, BatchScheduler, type SchedulerOptions } from '../../serving-image/src/engine/scheduler';
import { letterbox } from '../../serving-image/src/postprocess';

/** A batch handed to a fake worker, and how to end it. */
interface HandedBatch {
  readonly size: number;
  finish(output: BatchOutput): void;
  fail(err: Error): void;
}

/**
 * A scheduler on `count` fake workers that hold each batch until the test ends it; a worker that
 * ends its batch says it is idle, as the supervisor does.
 */
function scheduler(options: Partial<SchedulerOptions> = {}, count = 1) {
  const handed: HandedBatch[] = [];
  let busy = 0;
  const workers = {
    idle: () => {
      if (busy === count) return undefined;
      return (images: readonly unknown[]) => {
        busy++;
        return new Promise<BatchOutput>((resolve, reject) => {
          const end = () => {
            busy--;
            queueMicrotask(() => s.pump());
          };
          handed.push({
            size: images.length,
            finish: (output) => {
              end();
              resolve(output);
            },
            fail: (err) => {
              end();
              reject(err);
            },
          });
        });
      };
    },
  };
  const s = new BatchScheduler(workers, {
    maxBatch: 1,
    maxQueueDelayMs: 0,
    maxQueueSize: 8,
    requestTimeoutMs: 10_000,
    ...options,
  });
  return { s, handed };
}

const image = () => ({ pixels: new Uint8Array(12), letterbox: letterbox(2, 2, 2, 2) });
const decode = { confidence: 0.25, iou: 0.45, maxDetections: 10 };
const timings = { inputMs: 1, inferenceMs: 2, postprocessMs: 3 };
const box = (x: number) => ({ box: { xmin: x, ymin: 0, xmax: x + 1, ymax: 1 }, classId: 0, confidence: 1 });
const tick = () => new Promise((r) => setTimeout(r, 1));

describe('dynamic batching', () => {
  test('images that fill a batch go to one worker together', async () => {
    // GIVEN batches of 2, held up to 10 s
    const { s, handed } = scheduler({ maxBatch: 2, maxQueueDelayMs: 10_000 });
    // WHEN two images arrive
    void s.infer(image(), decode);
    void s.infer(image(), decode);
    // THEN one batch of 2 is handed over at once
    expect(handed.map((b) => b.size)).toEqual([2]);
  });

  test('a partial batch waits for more images, then leaves once the oldest has waited maxQueueDelayMs', async () => {
    // GIVEN batches of 4, held up to 30 ms
    const { s, handed } = scheduler({ maxBatch: 4, maxQueueDelayMs: 30 });
    // WHEN one image arrives THEN it is held
    void s.infer(image(), decode);
    expect(handed).toHaveLength(0);
    // AND it leaves alone after the delay
    await new Promise((r) => setTimeout(r, 40));
    expect(handed.map((b) => b.size)).toEqual([1]);
  });

  test("each image gets its own detections and its batch's size", async () => {
    // GIVEN a batch of two images
    const { s, handed } = scheduler({ maxBatch: 2, maxQueueDelayMs: 10_000 });
    const results = [s.infer(image(), decode), s.infer(image(), decode)];
    // WHEN the worker answers
    handed[0].finish({ detections: [[box(1)], [box(2)]], timings });
    // THEN each image gets the detections at its place
    expect(await Promise.all(results)).toEqual([
      { detections: [box(1)], batchSize: 2 },
      { detections: [box(2)], batchSize: 2 },
    ]);
  });

  test('a batch is reported with its size and timings', async () => {
    // GIVEN a scheduler reporting batches
    const batches: [number, unknown][] = [];
    const { s, handed } = scheduler({ onBatch: (size, t) => batches.push([size, t]) });
    const result = s.infer(image(), decode);
    // WHEN its one-image batch is answered
    handed[0].finish({ detections: [[]], timings });
    await result;
    // THEN it was reported once
    expect(batches).toEqual([[1, timings]]);
  });

  test('a batch that fails fails every image in it', async () => {
    // GIVEN a batch of two images
    const { s, handed } = scheduler({ maxBatch: 2, maxQueueDelayMs: 10_000 });
    const results = [s.infer(image(), decode), s.infer(image(), decode)];
    // WHEN its worker fails
    handed[0].fail(new ServingError('WORKER_FAILED', 'gone'));
    // THEN both images get the failure
    for (const r of results) await expect(r).rejects.toMatchObject({ code: 'WORKER_FAILED' });
  });

  test('a queued image goes to the worker that finishes', async () => {
    // GIVEN one worker busy and one image queued
    const { s, handed } = scheduler();
    void s.infer(image(), decode);
    void s.infer(image(), decode);
    expect([handed.length, s.depth]).toEqual([1, 1]);
    // WHEN the worker finishes THEN the queued image is handed to it
    handed[0].finish({ detections: [[]], timings });
    await tick();
    expect([handed.length, s.depth]).toEqual([2, 0]);
  });
});

describe('backpressure', () => {
  test('an image beyond maxQueueSize is refused QUEUE_FULL at once', async () => {
    // GIVEN a busy worker and a queue of one, full
    const { s } = scheduler({ maxQueueSize: 1 });
    void s.infer(image(), decode);
    // (the queued image times out after the test; caught, or its rejection would crash the jest worker running later files)
    s.infer(image(), decode).catch(() => undefined);
    // WHEN another image arrives THEN it is refused
    await expect(s.infer(image(), decode)).rejects.toMatchObject({ code: 'QUEUE_FULL' });
  });

  test('an image queued longer than requestTimeoutMs is refused QUEUE_TIMEOUT and its wait is recorded', async () => {
    // GIVEN a busy worker and a 20 ms timeout
    const waits: number[] = [];
    const { s } = scheduler({ requestTimeoutMs: 20, onQueueWait: (ms) => waits.push(ms) });
    void s.infer(image(), decode);
    // WHEN an image waits in the queue THEN it times out and leaves the queue
    await expect(s.infer(image(), decode)).rejects.toMatchObject({ code: 'QUEUE_TIMEOUT' });
    expect(s.depth).toBe(0);
    // AND its wait was recorded (the running image's too)
    expect(waits).toHaveLength(2);
  });

  test("aborting a queued image's signal drops it with the signal's reason", async () => {
    // GIVEN a busy worker and an image queued with a signal
    const { s } = scheduler();
    void s.infer(image(), decode);
    const abandon = new AbortController();
    const queued = s.infer(image(), decode, abandon.signal);
    // WHEN the signal aborts THEN the image leaves the queue with the reason
    abandon.abort(new Error('another image failed'));
    await expect(queued).rejects.toThrow('another image failed');
    expect(s.depth).toBe(0);
  });
});

describe('close', () => {
  test('queued images are refused with the reason, new ones SHUTTING_DOWN', async () => {
    // GIVEN a busy worker and an image queued
    const { s } = scheduler();
    void s.infer(image(), decode);
    const queued = s.infer(image(), decode);
    // WHEN the scheduler closes
    s.close(new ServingError('WORKER_FAILED', 'no inference worker could be started'));
    // THEN the queued image gets the reason and a new one is refused SHUTTING_DOWN
    await expect(queued).rejects.toMatchObject({ code: 'WORKER_FAILED' });
    await expect(s.infer(image(), decode)).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
  });
});
