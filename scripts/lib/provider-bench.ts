/**
 * `npm run bench -- --providers cuda|tensorrt`: the bare engine on exactly those execution
 * providers, for a machine with a GPU. It prints img/s and latency of `session.run` at batch 1 and
 * at the server's largest batch (MAX_BATCH_SIZE, when the model's batch dimension is dynamic), with
 * the server's session options and TensorRT settings (TENSORRT_* from the environment). A provider
 * that cannot load ends the run with onnxruntime's reason: it never falls back to the CPU.
 */
import * as ort from 'onnxruntime-node';
import { loadConfig } from '../../serving-image/src/config';
import { sessionOptions } from '../../serving-image/src/engine/session-options';
import { modelShape, toTensor } from '../../serving-image/src/engine/tensor';
import { applyTensorrtEnvironment } from '../../serving-image/src/engine/tensorrt';
import { prepareImage } from '../../serving-image/src/preprocess';
import { median, percentile, timeRuns } from './timing';

/** Median and p99 in ms of `runs` calls of `run`. */
async function timed(runs: number, run: () => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  const times = await timeRuns(runs, run);
  return { p50: median(times), p99: percentile(times, 99) };
}

/**
 * Runs the bare batch-1 and largest-batch measurements on `providers` and returns the lines to print.
 * @throws Error naming the providers, onnxruntime's reason and what a GPU provider needs
 */
export async function providerBench(
  model: Buffer,
  images: readonly Buffer[],
  providers: readonly string[],
  runs: number,
): Promise<string[]> {
  const { intraOpThreads, maxBatchSize, tensorrt } = loadConfig({
    ...process.env,
    MODEL_PATH: 'bench.onnx',
    EXECUTION_PROVIDERS: providers.join(','),
  });
  if (providers.includes('tensorrt')) applyTensorrtEnvironment(tensorrt, process.env);
  let session: ort.InferenceSession;
  try {
    // Its own coloured log line would repeat the reason printed here (as in the worker).
    ort.env.logLevel = 'fatal';
    session = await ort.InferenceSession.create(model, {
      ...sessionOptions(intraOpThreads),
      executionProviders: [...providers],
    });
  } catch (err) {
    throw new Error(
      `--providers ${providers.join(',')}: the model cannot run on ${providers.join(' or ')} here: ${(err as Error).message}. GPU providers need an NVIDIA GPU and onnxruntime-node's CUDA 12 libraries (installed with ONNXRUNTIME_NODE_INSTALL=cuda12, as the GPU serving image does) and, for tensorrt, TensorRT 10; this benchmark never falls back to the CPU`,
    );
  }
  const { height, width, batch } = modelShape(session);
  const input = session.inputNames[0];
  const prepared = await Promise.all(images.map((bytes) => prepareImage(bytes, width, height, 100_000_000)));
  const tensor = (size: number) =>
    toTensor(
      Array.from({ length: size }, (_, i) => prepared[i % prepared.length]),
      size,
      height,
      width,
    );
  const line = (size: number, t: { p50: number; p99: number }) =>
    `batch ${size}: ${((1000 * size) / t.p50).toFixed(1)} img/s, p50 ${t.p50.toFixed(2)} ms, p99 ${t.p99.toFixed(2)} ms`;
  const measure = async (size: number) => {
    const feeds = { [input]: tensor(size) };
    await timed(3, () => session.run(feeds)); // warm-up: TensorRT builds an engine for each new shape
    return line(size, await timed(runs, () => session.run(feeds)));
  };
  const lines = [`${providers.join(',')} at ${width}x${height}, ${runs} runs each:`, await measure(1)];
  lines.push(
    batch === null && maxBatchSize > 1
      ? await measure(maxBatchSize)
      : `batch ${maxBatchSize}: not measured, the model's batch dimension is fixed`,
  );
  return lines;
}
