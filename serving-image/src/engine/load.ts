import { type Logger } from 'pino';
import { type ClassNameSource, resolveClassNames } from '../class-names';
import { type ServerConfig } from '../config';
import { type ServerMetrics } from '../metrics';
import { type ModelFiles } from '../model-source';
import { readOnnxMetadata } from '../onnx-metadata';
import { layoutClassCount } from '../postprocess';
import { InferencePool } from './pool';

/** A warm worker pool and the model's class names. */
export interface LoadedEngine {
  readonly pool: InferencePool;
  readonly classNames: ReadonlyMap<number, string>;
  readonly classNameSource: ClassNameSource;
}

/**
 * Starts the inference workers on the model as configured and resolves the class names.
 * @param workerScript the compiled worker (`dist/engine/worker.js`)
 * @param onFatal called when the workers keep failing (see {@link InferencePoolOptions.onFatal})
 */
export async function loadEngine(
  config: ServerConfig,
  files: Pick<ModelFiles, 'model' | 'labels'>,
  logger: Logger,
  metrics: ServerMetrics,
  workerScript: string,
  onFatal?: (err: Error) => void,
): Promise<LoadedEngine> {
  const pool = await InferencePool.start({
    workerScript,
    model: files.model,
    executionProviders: config.executionProviders,
    workers: config.workers,
    intraOpThreads: config.intraOpThreads,
    gpuCount: config.gpuCount,
    maxRestarts: config.workerMaxRestarts,
    maxBatchSize: config.maxBatchSize,
    workerNice: config.workerNice,
    loneImageThreads: config.loneImageThreads,
    maxQueueDelayMs: config.maxQueueDelayMs,
    maxQueueSize: config.maxQueueSize,
    requestTimeoutMs: config.requestTimeoutMs,
    logger,
    onBatch: (size, timings) => metrics.observeBatch(size, timings),
    onQueueWait: (ms) => metrics.observeQueueWait(ms),
    onRestart: () => metrics.countWorkerRestart(),
    onFatal,
  });
  metrics.setExecutionProvider(pool.model.provider);
  const { names, source } = resolveClassNames(
    readOnnxMetadata(files.model),
    files.labels,
    layoutClassCount(pool.model.layout),
  );
  return { pool, classNames: names, classNameSource: source };
}
