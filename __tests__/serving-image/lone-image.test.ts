import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { InferencePool } from '../../serving-image/src/engine/pool';
import { createLogger } from '../../serving-image/src/logger';
import { letterbox } from '../../serving-image/src/postprocess';
import { prepareImage } from '../../serving-image/src/preprocess';
import { workerScript } from './helpers/build';
import { solidImage } from './helpers/images';
import { logSink } from './helpers/server';
import { buildTinyModel } from './helpers/tiny-model';

const poolOptions = {
  workers: 2,
  intraOpThreads: 1,
  loneImageThreads: 2,
  maxBatchSize: 1,
  maxQueueDelayMs: 0,
  maxQueueSize: 8,
  requestTimeoutMs: 10_000,
  maxRestarts: 0,
  executionProviders: ['cpu'],
};
const decode = { confidence: 0.25, iou: 0.45, maxDetections: 10 };

/**
 * A stand-in worker speaking the worker protocol: each run takes 100 ms and answers one detection
 * telling which session ran it (class 1: the wide one), and whether this worker has one (confidence 1).
 */
function reportingWorker(): string {
  const script = path.join(mkdtempSync(path.join(tmpdir(), 'lone-worker-')), 'worker.js');
  writeFileSync(
    script,
    `const { parentPort, workerData } = require('node:worker_threads');
parentPort.postMessage({ type: 'ready', provider: 'cpu', failures: [], shape: { inputName: 'images', batch: 1, height: 2, width: 2, outputDims: [1, 7, 8] }, warmupMs: 0 });
parentPort.on('message', (m) => setTimeout(() => parentPort.postMessage({
  type: 'result', id: m.id, timings: { inputMs: 0, inferenceMs: 0, postprocessMs: 0 },
  detections: [[{ classId: m.wide ? 1 : 0, confidence: workerData.wideIntraOpThreads ? 1 : 0, box: { xmin: 0, ymin: 0, xmax: 1, ymax: 1 } }]],
}), 100));
`,
  );
  return script;
}
// A new one each time: infer() transfers the pixels' buffer to the worker.
const tinyImage = () => ({ pixels: new Uint8Array(12), letterbox: letterbox(2, 2, 2, 2) });
const ranWide = (r: { detections: readonly { classId: number }[] }) => r.detections[0].classId === 1;

describe('a lone image runs on every core (loneImageThreads)', () => {
  test('an image arriving while every worker is idle runs on the wide session; one arriving while another runs does not', async () => {
    // GIVEN two workers, the first with a wide session
    const { stream } = logSink();
    const pool = await InferencePool.start({
      ...poolOptions,
      workerScript: reportingWorker(),
      model: new Uint8Array(),
      logger: createLogger('info', stream),
    });
    try {
      // WHEN one image arrives on an idle pool, and a second while the first runs
      const first = pool.infer(tinyImage(), decode);
      const second = pool.infer(tinyImage(), decode);
      // THEN the first ran wide, the second on the other worker's own session
      expect(ranWide(await first)).toBe(true);
      expect(ranWide(await second)).toBe(false);
      expect((await second).detections[0].confidence).toBe(0);
      // AND once the pool is idle again, the next lone image runs wide again
      expect(ranWide(await pool.infer(tinyImage(), decode))).toBe(true);
    } finally {
      await pool.terminate();
    }
  });

  test('without loneImageThreads no worker holds a wide session', async () => {
    // GIVEN the same pool without the option
    const { stream } = logSink();
    const pool = await InferencePool.start({
      ...poolOptions,
      loneImageThreads: undefined,
      workerScript: reportingWorker(),
      model: new Uint8Array(),
      logger: createLogger('info', stream),
    });
    try {
      // WHEN a lone image arrives THEN it runs on a worker's own session
      const result = await pool.infer(tinyImage(), decode);
      expect(ranWide(result)).toBe(false);
      expect(result.detections[0].confidence).toBe(0);
    } finally {
      await pool.terminate();
    }
  });

  test('the real worker gives the same detections on its wide session as on its own', async () => {
    // GIVEN a real model served by two single-threaded workers, with and without a wide session
    const { stream } = logSink();
    const model = buildTinyModel({ size: 64 });
    const image = async () => prepareImage(await solidImage([255, 0, 0], 64, 64), 64, 64, 1_000_000);
    const detect = async (loneImageThreads: number | undefined) => {
      const pool = await InferencePool.start({
        ...poolOptions,
        loneImageThreads,
        workerScript,
        model,
        logger: createLogger('info', stream),
      });
      try {
        return (await pool.infer(await image(), decode)).detections;
      } finally {
        await pool.terminate();
      }
    };
    // WHEN the same lone image is inferred by each
    const [wide, narrow] = [await detect(2), await detect(undefined)];
    // THEN the detections are the same, and there are some
    expect(wide.length).toBeGreaterThan(0);
    expect(wide).toEqual(narrow);
  });
});
