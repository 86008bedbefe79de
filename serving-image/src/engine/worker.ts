/**
 * Inference worker thread. `session.run()` holds the calling thread for the whole inference
 * (https://github.com/microsoft/onnxruntime/issues/19611,
 * https://github.com/microsoft/onnxruntime/issues/26968), so sessions live here and the main
 * thread stays free for HTTP, health checks and image decoding.
 */
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { decodeOutput, detectLayout } from '../postprocess';
import type { ModelShape, RunMessage, WorkerInit, WorkerMessage } from './protocol';

const init = workerData as WorkerInit;
const port = parentPort!;
const post = (m: WorkerMessage) => port.postMessage(m);

/**
 * Creates the session on the first provider that loads. onnxruntime-node does not fall back by
 * itself: asking for an unavailable provider throws. Each attempt lists the remaining providers,
 * so nodes TensorRT cannot run still go to CUDA before the CPU.
 */
async function createSession(): Promise<{ session: ort.InferenceSession; provider: string; failures: { provider: string; reason: string }[] }> {
  const failures: { provider: string; reason: string }[] = [];
  for (let i = 0; i < init.executionProviders.length; i++) {
    const providers = init.executionProviders.slice(i);
    try {
      const session = await ort.InferenceSession.create(init.model, {
        executionProviders: providers as ort.InferenceSession.ExecutionProviderConfig[],
        intraOpNumThreads: init.intraOpThreads,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
      });
      return { session, provider: providers[0], failures };
    } catch (err) {
      failures.push({ provider: providers[0], reason: (err as Error).message });
    }
  }
  throw new Error(`no execution provider could run the model: ${failures.map((f) => `${f.provider}: ${f.reason}`).join('; ')}`);
}

function modelShape(session: ort.InferenceSession): Omit<ModelShape, 'outputDims'> {
  const meta = session.inputMetadata[0];
  const shape = meta.isTensor ? meta.shape : [];
  const [batch, channels, height, width] = shape;
  if (shape.length !== 4 || channels !== 3 || typeof height !== 'number' || typeof width !== 'number' || height <= 0 || width <= 0) {
    throw new Error(`unsupported model input ${meta.name} [${shape.join(', ')}]: expected [batch, 3, height, width] with a fixed height and width`);
  }
  return { inputName: meta.name, batch: typeof batch === 'number' && batch > 0 ? batch : null, height, width };
}

/** Fills an NCHW float tensor with 0..1 RGB from HWC bytes, as Ultralytics does (`im / 255`). */
function toTensor(images: readonly Uint8Array[], batch: number, height: number, width: number): ort.Tensor {
  const plane = height * width;
  const data = new Float32Array(batch * 3 * plane);
  images.forEach((px, i) => {
    const base = i * 3 * plane;
    for (let p = 0, q = 0; p < plane; p++, q += 3) {
      data[base + p] = px[q] / 255;
      data[base + plane + p] = px[q + 1] / 255;
      data[base + 2 * plane + p] = px[q + 2] / 255;
    }
  });
  return new ort.Tensor('float32', data, [batch, 3, height, width]);
}

async function main(): Promise<void> {
  const { session, provider, failures } = await createSession();
  const shape = modelShape(session);
  const outputName = session.outputNames[0];
  // Warm-up: the first run allocates and (on GPUs) builds engines; health turns 200 only after it.
  const start = performance.now();
  const warm = await session.run({ [shape.inputName]: toTensor([], shape.batch ?? 1, shape.height, shape.width) });
  const outputDims = warm[outputName].dims.map(Number);
  // Refuse an output the server cannot decode now, as a startup error, not on the first request.
  detectLayout(outputDims);
  post({ type: 'ready', provider, failures, shape: { ...shape, outputDims }, warmupMs: performance.now() - start });

  port.on('message', async (msg: RunMessage) => {
    try {
      const input = toTensor(msg.images, shape.batch ?? msg.images.length, shape.height, shape.width);
      const t0 = performance.now();
      const out = await session.run({ [shape.inputName]: input });
      const t1 = performance.now();
      const data = out[outputName].data as Float32Array;
      // The anchor or batch dimension may differ from the warm-up run in models with dynamic axes.
      const layout = detectLayout(out[outputName].dims.map(Number));
      const detections = msg.options.map((o, i) => decodeOutput(data, layout, i, o));
      post({ type: 'result', id: msg.id, detections, inferenceMs: t1 - t0, postprocessMs: performance.now() - t1 });
    } catch (err) {
      post({ type: 'error', id: msg.id, message: (err as Error).message });
    }
  });
}

main().catch((err: Error) => post({ type: 'fatal', message: err.message }));
