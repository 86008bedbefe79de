import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { type Logger } from 'pino';
import { ServingError, shuttingDown } from '../errors';
import { type DecodeOptions, type OutputLayout, type RawDetection, detectLayout } from '../postprocess';
import {
  type BatchTimings,
  type ModelImage,
  type ModelShape,
  type RunMessage,
  type WorkerInit,
  type WorkerMessage,
} from './protocol';

/** Options of {@link InferencePool.start}. */
export interface InferencePoolOptions {
  /** The compiled worker script (`dist/engine/worker.js`). */
  readonly workerScript: string;
  /** The ONNX model. */
  readonly model: Uint8Array;
  /** Execution providers, tried in order. */
  readonly executionProviders: readonly string[];
  /** Worker threads, each with its own session. */
  readonly workers: number;
  /** onnxruntime intra-op threads per worker. */
  readonly intraOpThreads: number;
  /**
   * GPUs to spread the workers over: worker i uses device `i % gpuCount` with the CUDA and
   * TensorRT providers.
   * @default 1
   */
  readonly gpuCount?: number;
  /** Most images in one `session.run` (capped by a static batch dimension). */
  readonly maxBatchSize: number;
  /** Longest the oldest queued image waits for a batch to fill. */
  readonly maxQueueDelayMs: number;
  /** Most images queued; {@link InferencePool.infer} refuses more (QUEUE_FULL). */
  readonly maxQueueSize: number;
  /** Longest an image may stay queued before it is refused (QUEUE_TIMEOUT). */
  readonly requestTimeoutMs: number;
  /**
   * Replacement workers that may fail in a row (fail to start, or die before finishing a batch)
   * before {@link onFatal} is called.
   */
  readonly maxRestarts: number;
  /**
   * Delay before the first replacement; it doubles with each failure in a row, up to 8 s.
   * @default 250
   */
  readonly restartBackoffMs?: number;
  readonly logger: Logger;
  /** Told about every batch run. */
  readonly onBatch?: (size: number, timings: BatchTimings) => void;
  /** Told how long each image waited in the queue, whether it then ran, timed out or was cancelled. */
  readonly onQueueWait?: (ms: number) => void;
  /**
   * Called once when more than `maxRestarts` replacements failed in a row: the pool cannot serve
   * and the process should exit so that the platform restarts the container (a CUDA error can
   * leave the whole process's GPU context unusable).
   * @default - the failure is only logged
   */
  readonly onFatal?: (err: Error) => void;
}

/** The model as the workers loaded it. */
export interface LoadedModel {
  /** Execution provider the sessions run on. */
  readonly provider: string;
  readonly shape: ModelShape;
  readonly layout: OutputLayout;
  /** Images per `session.run`. */
  readonly maxBatch: number;
}

/** One image's result. */
export interface InferenceResult {
  /** Detections in model-input pixels. */
  readonly detections: readonly RawDetection[];
  /** Images in the batch it ran in. */
  readonly batchSize: number;
}

interface QueuedImage {
  readonly image: ModelImage;
  readonly options: DecodeOptions;
  readonly enqueuedAt: number;
  readonly resolve: (r: InferenceResult) => void;
  readonly reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
  /** Stops listening to the caller's abort signal. */
  detach?: () => void;
}

interface WorkerSlot {
  readonly worker: Worker;
  ready: boolean;
  /** The batch it runs, by message id. */
  batch?: { id: number; items: QueuedImage[] };
}

/** Longest wait before a replacement worker is started. */
const MAX_RESTART_BACKOFF_MS = 8_000;

/**
 * Worker threads fed from one bounded queue, with Triton-style dynamic batching: an idle worker
 * takes up to `maxBatch` queued images, waiting at most `maxQueueDelayMs` for the batch to fill.
 * A batch-1 model gets one image per call, spread over the workers.
 */
export class InferencePool {
  /**
   * Starts the workers and waits until every one has loaded the model and run its warm-up
   * inference. Failed execution providers are logged with the reason.
   * @throws Error when a worker cannot load the model
   */
  static async start(options: InferencePoolOptions): Promise<InferencePool> {
    const pool = new InferencePool(options);
    try {
      const loaded = await Promise.all(Array.from({ length: options.workers }, (_, i) => pool.spawn(i)));
      pool.setModel(loaded[0]);
    } catch (err) {
      await pool.terminate();
      throw err;
    }
    return pool;
  }

  private readonly queue: QueuedImage[] = [];
  private readonly slots: WorkerSlot[] = [];
  private nextId = 1;
  private batchTimer?: NodeJS.Timeout;
  private readonly restartTimers = new Set<NodeJS.Timeout>();
  /** Worker failures since a batch last succeeded. */
  private failuresInARow = 0;
  private closing = false;
  private loaded?: LoadedModel;

  private constructor(private readonly options: InferencePoolOptions) {}

  /** The loaded model. */
  get model(): LoadedModel {
    return this.loaded!;
  }

  /** Images waiting for a worker. */
  get queueDepth(): number {
    return this.queue.length;
  }

  /**
   * At least one worker is loaded and can take work. False while every worker is being replaced
   * (the health route then answers 503, so the platform stops routing traffic here).
   */
  get healthy(): boolean {
    return !this.closing && this.slots.some((s) => s.ready);
  }

  /** Images being inferred. */
  get inFlight(): number {
    return this.slots.reduce((n, s) => n + (s.batch?.items.length ?? 0), 0);
  }

  /** Whether `n` more images fit in the queue now. */
  hasRoom(n: number): boolean {
    return this.queue.length + n <= this.options.maxQueueSize;
  }

  /**
   * Queues one resized image (its pixels are transferred to a worker, which pads them).
   * @param signal aborting it removes the image from the queue (when it is still queued) and
   *   rejects with the signal's reason: a request whose other image failed drops its remaining work
   * @throws ServingError QUEUE_FULL at once when the queue is full, QUEUE_TIMEOUT when it
   *   waited longer than `requestTimeoutMs`, SHUTTING_DOWN after {@link terminate},
   *   WORKER_FAILED when its worker died or failed
   */
  infer(image: ModelImage, options: DecodeOptions, signal?: AbortSignal): Promise<InferenceResult> {
    if (this.closing) return Promise.reject(shuttingDown());
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    if (!this.hasRoom(1)) {
      return Promise.reject(
        new ServingError(
          'QUEUE_FULL',
          `the queue holds ${this.options.maxQueueSize} images (MAX_QUEUE_SIZE); retry later`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const item: QueuedImage = { image, options, enqueuedAt: performance.now(), resolve, reject };
      item.timer = setTimeout(() => {
        if (!this.dequeue(item)) return;
        reject(
          new ServingError(
            'QUEUE_TIMEOUT',
            `the image waited ${this.options.requestTimeoutMs} ms (REQUEST_TIMEOUT_MS) without a free worker`,
          ),
        );
      }, this.options.requestTimeoutMs);
      if (signal) {
        const onAbort = () => {
          if (this.dequeue(item)) this.fail(item, signal.reason as Error);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        item.detach = () => signal.removeEventListener('abort', onAbort);
      }
      this.queue.push(item);
      this.pump();
    });
  }

  /** Takes a still-queued image out of the queue, recording its wait; false when it already left. */
  private dequeue(item: QueuedImage): boolean {
    const i = this.queue.indexOf(item);
    if (i < 0) return false;
    this.queue.splice(i, 1);
    this.left(item, performance.now());
    return true;
  }

  /** Bookkeeping when an image leaves the queue, for whatever reason. */
  private left(item: QueuedImage, now: number): void {
    clearTimeout(item.timer);
    item.detach?.();
    this.options.onQueueWait?.(now - item.enqueuedAt);
  }

  /**
   * Stops every worker; queued images are refused with 503. Call it once nothing is running
   * (after draining): terminating a worker inside onnxruntime's native `run` aborts the process.
   */
  async terminate(): Promise<void> {
    this.closing = true;
    clearTimeout(this.batchTimer);
    for (const t of this.restartTimers) clearTimeout(t);
    for (const item of this.queue.splice(0)) this.fail(item, shuttingDown());
    const slots = this.slots.splice(0);
    for (const s of slots) for (const item of s.batch?.items ?? []) this.fail(item, shuttingDown());
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  private setModel(ready: Extract<WorkerMessage, { type: 'ready' }>): void {
    const shape = ready.shape;
    const maxBatch =
      shape.batch === null ? this.options.maxBatchSize : Math.min(shape.batch, this.options.maxBatchSize);
    this.loaded = { provider: ready.provider, shape, layout: detectLayout(shape.outputDims), maxBatch };
    this.options.logger.info(
      {
        provider: ready.provider,
        input: shape,
        maxBatch,
        workers: this.slots.length,
        warmupMs: Math.round(ready.warmupMs),
      },
      'model loaded',
    );
  }

  /**
   * Starts one worker; resolves once it is warm.
   * @param index the worker's number (a replacement takes the number of the worker it replaces)
   * @param replacement it replaces a worker that failed: if it fails too, it is replaced in turn
   */
  private spawn(index: number, replacement = false): Promise<Extract<WorkerMessage, { type: 'ready' }>> {
    const init: WorkerInit = {
      model: this.options.model,
      executionProviders: this.options.executionProviders,
      intraOpThreads: this.options.intraOpThreads,
      deviceId: index % (this.options.gpuCount ?? 1),
      maxBatchSize: this.options.maxBatchSize,
    };
    const worker = new Worker(this.options.workerScript, { workerData: init });
    const slot: WorkerSlot = { worker, ready: false };
    this.slots.push(slot);
    const log = this.options.logger.child({ worker: worker.threadId, deviceId: init.deviceId });
    return new Promise((resolve, reject) => {
      worker.on('message', (msg: WorkerMessage) => {
        switch (msg.type) {
          case 'ready':
            for (const f of msg.failures)
              log.warn(
                { provider: f.provider, reason: f.reason },
                `execution provider ${f.provider} failed to load; trying the next one`,
              );
            slot.ready = true;
            wasReady = true;
            resolve(msg);
            this.pump();
            break;
          case 'fatal':
            reject(new Error(msg.message));
            void worker.terminate();
            break;
          case 'result':
          case 'error':
            this.settle(slot, msg);
            break;
          case 'failed':
            // session.run failed for a reason that is not the input's (e.g. a sticky CUDA error):
            // the worker may be unusable, so retire it (it is idle now, so terminating is safe) and
            // let the exit handler replace it.
            log.error({ reason: msg.message }, 'inference failed; retiring the worker');
            slot.ready = false;
            if (slot.batch?.id === msg.id) {
              for (const item of slot.batch.items)
                this.fail(
                  item,
                  new ServingError(
                    'WORKER_FAILED',
                    `inference failed (${msg.message}); the worker is being replaced, retry`,
                  ),
                );
              slot.batch = undefined;
            }
            void worker.terminate();
            break;
        }
      });
      worker.on('error', (err) => {
        log.error({ err }, 'inference worker crashed');
        reject(err);
      });
      let wasReady = false;
      worker.on('exit', (code) => {
        reject(new Error(`inference worker exited with code ${code} before it loaded the model`));
        const i = this.slots.indexOf(slot);
        if (i < 0) return; // terminated on purpose
        this.slots.splice(i, 1);
        for (const item of slot.batch?.items ?? [])
          this.fail(item, new ServingError('WORKER_FAILED', 'the inference worker running this image stopped; retry'));
        // A first worker that fails to start fails start() instead.
        if (this.closing || (!replacement && !wasReady)) return;
        log.error({ code }, 'inference worker exited');
        this.replace(index);
      });
    });
  }

  /**
   * Starts a replacement after a backoff that doubles with each failure in a row; gives up (calls
   * `onFatal`) after `maxRestarts` failures in a row. A replacement that fails to start exits and
   * comes back here.
   */
  private replace(index: number): void {
    this.failuresInARow++;
    if (this.failuresInARow > this.options.maxRestarts) {
      const err = new Error(
        `inference workers failed ${this.failuresInARow} times in a row (WORKER_MAX_RESTARTS=${this.options.maxRestarts})`,
      );
      this.options.logger.fatal({ failures: this.failuresInARow }, err.message);
      this.closing = true;
      for (const item of this.queue.splice(0)) {
        this.left(item, performance.now());
        this.fail(item, new ServingError('WORKER_FAILED', 'no inference worker could be started'));
      }
      this.options.onFatal?.(err);
      return;
    }
    const delayMs = Math.min(
      (this.options.restartBackoffMs ?? 250) * 2 ** (this.failuresInARow - 1),
      MAX_RESTART_BACKOFF_MS,
    );
    this.options.logger.warn({ failures: this.failuresInARow, delayMs }, 'starting a replacement inference worker');
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      this.spawn(index, true).catch((err: Error) =>
        this.options.logger.error({ err }, 'replacement inference worker failed to start'),
      );
    }, delayMs);
    this.restartTimers.add(timer);
  }

  private settle(slot: WorkerSlot, msg: Extract<WorkerMessage, { type: 'result' | 'error' }>): void {
    const batch = slot.batch;
    if (!batch || batch.id !== msg.id) return;
    slot.batch = undefined;
    if (msg.type === 'error') {
      for (const item of batch.items) this.fail(item, new Error(`inference failed: ${msg.message}`));
    } else {
      this.failuresInARow = 0;
      this.options.onBatch?.(batch.items.length, msg.timings);
      for (const [i, item] of batch.items.entries()) {
        item.resolve({ detections: msg.detections[i], batchSize: batch.items.length });
      }
    }
    this.pump();
  }

  private fail(item: QueuedImage, err: Error): void {
    clearTimeout(item.timer);
    item.detach?.();
    item.reject(err);
  }

  /** Hands queued images to idle workers, holding a partial batch until the oldest image has waited `maxQueueDelayMs`. */
  private pump(): void {
    clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    const maxBatch = this.loaded?.maxBatch ?? 1;
    while (this.queue.length > 0) {
      const slot = this.slots.find((s) => s.ready && !s.batch);
      if (!slot) return;
      if (this.queue.length < maxBatch) {
        const waited = performance.now() - this.queue[0].enqueuedAt;
        if (waited < this.options.maxQueueDelayMs) {
          this.batchTimer = setTimeout(() => this.pump(), this.options.maxQueueDelayMs - waited);
          return;
        }
      }
      const items = this.queue.splice(0, maxBatch);
      const now = performance.now();
      for (const item of items) this.left(item, now);
      const id = this.nextId++;
      slot.batch = { id, items };
      const msg: RunMessage = {
        type: 'run',
        id,
        images: items.map((i) => i.image),
        options: items.map((i) => i.options),
      };
      // Transfer, not copy, each image's pixels when it owns its whole buffer. (Never an empty,
      // possibly detached, buffer: Node drops a message whose transfer list holds one, silently.)
      const transfer = [
        ...new Set(
          items
            .map((i) => i.image.pixels)
            .filter(
              (px) => px.buffer instanceof ArrayBuffer && px.byteLength > 0 && px.byteLength === px.buffer.byteLength,
            )
            .map((px) => px.buffer as ArrayBuffer),
        ),
      ];
      try {
        slot.worker.postMessage(msg, transfer);
      } catch (err) {
        // The message could not be cloned (pixels whose buffer was transferred elsewhere): fail
        // these images rather than leave the worker marked busy forever.
        slot.batch = undefined;
        for (const item of items)
          this.fail(item, new Error(`could not hand the batch to a worker: ${(err as Error).message}`));
      }
    }
  }
}
