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
import { type RunMessage, type WorkerInit, type WorkerMessage } from './protocol';
import { sessionOptions } from './session-options';
import { lowerThreadPriority } from './thread-priority';
import { modelShape, toTensor } from './tensor';

const init = workerData as WorkerInit;
// onnxruntime's own log goes to stderr as coloured, non-JSON lines (e.g. a CUDA provider that
// cannot load, at ERROR): only fatal ones are let through. Provider failures are reported by the
// supervisor as JSON (WARNING) from the errors the session creation throws.
ort.env.logLevel = 'fatal';
const port = parentPort!;
const post = (m: WorkerMessage) => port.postMessage(m);

/**
 * The provider list onnxruntime-node is given: GPU providers get this worker's `deviceId`, so the
 * workers of a multi-GPU machine spread over its GPUs. (onnxruntime-node exposes no other
 * TensorRT option: the engine cache is configured with ORT_TENSORRT_* environment variables.)
 */
function providerConfigs(providers: readonly string[]): ort.InferenceSession.ExecutionProviderConfig[] {
  return providers.map((name) => (name === 'cuda' || name === 'tensorrt' ? { name, deviceId: init.deviceId } : name));
}

/**
 * Creates the session on the first provider that loads. onnxruntime-node does not fall back by
 * itself: asking for an unavailable provider throws. Each attempt lists the remaining providers,
 * so nodes TensorRT cannot run still go to CUDA before the CPU.
 */
async function createSession(): Promise<{
  session: ort.InferenceSession;
  provider: string;
  failures: { provider: string; reason: string }[];
}> {
  const failures: { provider: string; reason: string }[] = [];
  for (let i = 0; i < init.executionProviders.length; i++) {
    const providers = init.executionProviders.slice(i);
    try {
      const session = await ort.InferenceSession.create(init.model, {
        ...sessionOptions(init.intraOpThreads),
        executionProviders: providerConfigs(providers),
      });
      return { session, provider: providers[0], failures };
    } catch (err) {
      failures.push({ provider: providers[0], reason: (err as Error).message });
    }
  }
  throw new Error(
    `no execution provider could run the model: ${failures.map((f) => `${f.provider}: ${f.reason}`).join('; ')}`,
  );
}

async function main(): Promise<void> {
  // Before the session exists, so that its intra-op threads inherit the lower priority.
  lowerThreadPriority(init.nice);
  const { session, provider, failures } = await createSession();
  // The lone-image session runs on the provider the first one got, with more intra-op threads.
  const wide =
    init.wideIntraOpThreads === undefined
      ? undefined
      : await ort.InferenceSession.create(init.model, {
          ...sessionOptions(init.wideIntraOpThreads),
          executionProviders: providerConfigs([provider]),
        });
  const shape = modelShape(session);
  const outputName = session.outputNames[0];
  // Warm-up: the first run allocates and (on GPUs) builds engines; health turns 200 only after it.
  // A dynamic batch is also run at the largest batch the pool will send, so that TensorRT's
  // shape profile covers 1..maxBatch before traffic: a new batch size would otherwise rebuild
  // the engine inside a live request.
  const start = performance.now();
  const warmupBatches = shape.batch === null && init.maxBatchSize > 1 ? [1, init.maxBatchSize] : [shape.batch ?? 1];
  // One input storage for the worker's life, sized for the largest batch (the warm-up runs it):
  // the pool sends this worker one batch at a time, so a run never overlaps the next fill.
  const storage = new Float32Array(Math.max(...warmupBatches) * 3 * shape.height * shape.width);
  let outputDims: number[] = [];
  for (const batch of warmupBatches) {
    const warm = await session.run({ [shape.inputName]: toTensor([], batch, shape.height, shape.width, storage) });
    if (outputDims.length === 0) outputDims = warm[outputName].dims.map(Number);
  }
  await wide?.run({ [shape.inputName]: toTensor([], shape.batch ?? 1, shape.height, shape.width, storage) });
  // Refuse an output the server cannot decode now, as a startup error, not on the first request.
  detectLayout(outputDims);
  post({ type: 'ready', provider, failures, shape: { ...shape, outputDims }, warmupMs: performance.now() - start });

  port.on('message', async (msg: RunMessage) => {
    const received = performance.now();
    let input: ort.Tensor;
    try {
      input = toTensor(msg.images, shape.batch ?? msg.images.length, shape.height, shape.width, storage);
    } catch (err) {
      post({ type: 'error', id: msg.id, message: (err as Error).message });
      return;
    }
    const t0 = performance.now();
    let out: ort.InferenceSession.ReturnType;
    try {
      out = await (msg.wide && wide ? wide : session).run({ [shape.inputName]: input });
    } catch (err) {
      // The input was built here and has the model's shape, so this is the runtime's failure (a
      // CUDA error can be sticky): the pool retires this worker and starts another.
      post({ type: 'failed', id: msg.id, message: (err as Error).message });
      return;
    }
    const t1 = performance.now();
    try {
      const data = out[outputName].data as Float32Array;
      // The anchor or batch dimension may differ from the warm-up run in models with dynamic axes.
      const layout = detectLayout(out[outputName].dims.map(Number));
      const detections = msg.options.map((o, i) => decodeOutput(data, layout, i, o));
      post({
        type: 'result',
        id: msg.id,
        detections,
        timings: { inputMs: t0 - received, inferenceMs: t1 - t0, postprocessMs: performance.now() - t1 },
      });
    } catch (err) {
      post({ type: 'error', id: msg.id, message: (err as Error).message });
    }
  });
}

main().catch((err: Error) => post({ type: 'fatal', message: err.message }));
