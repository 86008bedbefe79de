import { performance } from 'node:perf_hooks';
import { ServingError, shuttingDown } from '../errors';
import { type DecodeOptions, type RawDetection } from '../postprocess';
import { type BatchTimings, type ModelImage } from './protocol';

/** What a worker answers for one batch: detections per image, in order. */
export interface BatchOutput {
  readonly detections: readonly RawDetection[][];
  readonly timings: BatchTimings;
}

/** Runs one batch on the worker it was handed to; rejects when it cannot be run. */
export type RunBatch = (images: readonly ModelImage[], options: readonly DecodeOptions[]) => Promise<BatchOutput>;

/** Where batches run. */
export interface Workers {
  /**
   * A ready worker without a batch, or undefined when there is none.
   * @param lone the batch is the only image waiting: the workers may run it on more cores
   */
  idle(lone: boolean): RunBatch | undefined;
}

/** One image's result. */
export interface InferenceResult {
  /** Detections in model-input pixels. */
  readonly detections: readonly RawDetection[];
  /** Images in the batch it ran in. */
  readonly batchSize: number;
}

/** Options of {@link BatchScheduler}. */
export interface SchedulerOptions {
  /** Most images in one batch. */
  readonly maxBatch: number;
  /** Longest the oldest queued image waits for a batch to fill. */
  readonly maxQueueDelayMs: number;
  /** Most images queued; {@link BatchScheduler.infer} refuses more (QUEUE_FULL). */
  readonly maxQueueSize: number;
  /** Longest an image may stay queued before it is refused (QUEUE_TIMEOUT). */
  readonly requestTimeoutMs: number;
  /** Told about every batch run. */
  readonly onBatch?: (size: number, timings: BatchTimings) => void;
  /** Told how long each image waited in the queue, whether it then ran, timed out or was cancelled. */
  readonly onQueueWait?: (ms: number) => void;
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

/**
 * One bounded queue in front of the workers, with Triton-style dynamic batching: an idle worker
 * takes up to `maxBatch` queued images, waiting at most `maxQueueDelayMs` for the batch to fill.
 * A batch-1 model gets one image per call, spread over the workers.
 */
export class BatchScheduler {
  private readonly queue: QueuedImage[] = [];
  private batchTimer?: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly workers: Workers,
    private readonly options: SchedulerOptions,
  ) {}

  /** Images waiting for a worker. */
  get depth(): number {
    return this.queue.length;
  }

  /** Whether `n` more images fit in the queue now. */
  hasRoom(n: number): boolean {
    return this.queue.length + n <= this.options.maxQueueSize;
  }

  /**
   * Queues one resized image (its pixels are transferred to a worker, which pads them).
   * @param signal aborting it removes the image from the queue (when it is still queued) and
   *   rejects with the signal's reason: a request whose other image failed drops its remaining work
   * @throws ServingError QUEUE_FULL at once when the queue is full, QUEUE_TIMEOUT when it waited
   *   longer than `requestTimeoutMs`, SHUTTING_DOWN after {@link close}, or the worker's failure
   */
  infer(image: ModelImage, options: DecodeOptions, signal?: AbortSignal): Promise<InferenceResult> {
    if (this.closed) return Promise.reject(shuttingDown());
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
        const waited = `the image waited ${this.options.requestTimeoutMs} ms (REQUEST_TIMEOUT_MS) without a free worker`;
        this.remove(item, new ServingError('QUEUE_TIMEOUT', waited));
      }, this.options.requestTimeoutMs);
      if (signal) {
        const onAbort = () => this.remove(item, signal.reason as Error);
        signal.addEventListener('abort', onAbort, { once: true });
        item.detach = () => signal.removeEventListener('abort', onAbort);
      }
      this.queue.push(item);
      this.pump();
    });
  }

  /**
   * Hands queued images to idle workers, holding a partial batch until the oldest image has
   * waited `maxQueueDelayMs`. Called whenever an image arrives or a worker becomes idle.
   */
  pump(): void {
    clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    while (this.queue.length > 0) {
      const run = this.workers.idle(this.queue.length === 1);
      if (!run || this.holdForBatch()) return;
      this.dispatch(run, this.queue.splice(0, this.options.maxBatch));
    }
  }

  /** Refuses every queued image with `reason`, and every new one with SHUTTING_DOWN. */
  close(reason: Error): void {
    this.closed = true;
    clearTimeout(this.batchTimer);
    const now = performance.now();
    for (const item of this.queue.splice(0)) {
      this.left(item, now);
      item.reject(reason);
    }
  }

  /** True (and the pump scheduled) while a partial batch may still fill. */
  private holdForBatch(): boolean {
    if (this.queue.length >= this.options.maxBatch) return false;
    const waited = performance.now() - this.queue[0].enqueuedAt;
    if (waited >= this.options.maxQueueDelayMs) return false;
    this.batchTimer = setTimeout(() => this.pump(), this.options.maxQueueDelayMs - waited);
    return true;
  }

  private dispatch(run: RunBatch, items: readonly QueuedImage[]): void {
    const now = performance.now();
    for (const item of items) this.left(item, now);
    run(
      items.map((i) => i.image),
      items.map((i) => i.options),
    ).then(
      (output) => {
        this.options.onBatch?.(items.length, output.timings);
        for (const [i, item] of items.entries())
          item.resolve({ detections: output.detections[i], batchSize: items.length });
      },
      (err: Error) => {
        for (const item of items) item.reject(err);
      },
    );
  }

  /** Refuses an image with `err` if it is still queued (it may have left for a worker already). */
  private remove(item: QueuedImage, err: Error): void {
    const i = this.queue.indexOf(item);
    if (i < 0) return;
    this.queue.splice(i, 1);
    this.left(item, performance.now());
    item.reject(err);
  }

  /** Bookkeeping when an image leaves the queue, for whatever reason. */
  private left(item: QueuedImage, now: number): void {
    clearTimeout(item.timer);
    item.detach?.();
    this.options.onQueueWait?.(now - item.enqueuedAt);
  }
}
