import { Worker } from 'node:worker_threads';
import { type Logger } from 'pino';
import { ServingError, shuttingDown } from '../errors';
import { type DecodeOptions } from '../postprocess';
import { type ModelImage, type RunMessage, type WorkerInit, type WorkerMessage } from './protocol';
import { type BatchOutput, type RunBatch, type Workers } from './scheduler';

/** A worker's message once it has loaded the model and run its warm-up inference. */
export type ReadyMessage = Extract<WorkerMessage, { type: 'ready' }>;

/** Options of {@link WorkerSupervisor}. */
export interface SupervisorOptions {
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
  /** Largest batch a worker is sent (a dynamic batch is warmed up at this size too). */
  readonly maxBatchSize: number;
  /**
   * Nice value of the workers' threads, below the main thread's (see lowerThreadPriority).
   * @default 0 - the process's own priority
   */
  readonly workerNice?: number;
  /**
   * Intra-op threads of a second session the first worker holds for a lone image: when one image
   * is waiting and every worker is idle, it runs there on this many threads instead of on one
   * worker's `intraOpThreads` while the other cores idle.
   * @default - no second session
   */
  readonly loneImageThreads?: number;
  /** Replacement workers that may fail in a row (fail to start, or die before finishing a batch). */
  readonly maxRestarts: number;
  /**
   * Delay before the first replacement; it doubles with each failure in a row, up to 8 s.
   * @default 250
   */
  readonly restartBackoffMs?: number;
  readonly logger: Logger;
  /** A worker can take a batch: one came up, or finished its batch. */
  readonly onIdle: () => void;
  /** Called once when more than `maxRestarts` replacements failed in a row: no worker will come back. */
  readonly onGiveUp: (err: Error) => void;
  /**
   * Called when a replacement worker is to be started.
   * @default - not reported
   */
  readonly onRestart?: () => void;
}

interface RunningBatch {
  readonly id: number;
  readonly size: number;
  readonly resolve: (output: BatchOutput) => void;
  readonly reject: (err: Error) => void;
}

interface WorkerSlot {
  readonly worker: Worker;
  /** Can take a batch: loaded, and not retired. */
  ready: boolean;
  /** Loaded the model once: if it then dies, it failed at serving, not at starting. */
  warmed: boolean;
  /** Holds a second session for a lone image (SupervisorOptions.loneImageThreads). */
  readonly wide: boolean;
  batch?: RunningBatch;
}

/** Longest wait before a replacement worker is started. */
const MAX_RESTART_BACKOFF_MS = 8_000;

/**
 * Keeps the inference worker threads running: starts them, hands each one batch at a time, and
 * replaces one that dies or fails, with a backoff, until too many fail in a row.
 */
export class WorkerSupervisor implements Workers {
  private readonly slots: WorkerSlot[] = [];
  private nextId = 1;
  private readonly restartTimers = new Set<NodeJS.Timeout>();
  /** Worker failures since a batch last succeeded. */
  private failuresInARow = 0;
  private stopped = false;
  /** Called once no worker holds a batch. */
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: SupervisorOptions) {}

  /**
   * Starts every worker; resolves with the first one's ready message once all are warm.
   * @throws Error when a worker cannot load the model (the others are stopped)
   */
  async start(): Promise<ReadyMessage> {
    try {
      const ready = await Promise.all(Array.from({ length: this.options.workers }, (_, i) => this.spawn(i)));
      return ready[0];
    } catch (err) {
      await this.terminate();
      throw err;
    }
  }

  /** At least one worker is loaded and can take work. */
  get healthy(): boolean {
    return !this.stopped && this.slots.some((s) => s.ready);
  }

  /** Images being inferred. */
  get inFlight(): number {
    return this.slots.reduce((n, s) => n + (s.batch?.size ?? 0), 0);
  }

  /**
   * Resolves once no worker is running a batch (at once when none is). Terminating a worker, or
   * exiting the process, while one is inside onnxruntime's native `run` aborts the process
   * (`terminate called after throwing an instance of 'Napi::Error'`).
   */
  whenIdle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  idle(lone: boolean): RunBatch | undefined {
    if (lone && this.slots.every((s) => !s.batch)) {
      const wide = this.slots.find((s) => s.ready && s.wide);
      if (wide) return (images, options) => this.run(wide, images, options, true);
    }
    const slot = this.slots.find((s) => s.ready && !s.batch);
    return slot && ((images, options) => this.run(slot, images, options, false));
  }

  /**
   * Stops every worker; a batch still running is refused SHUTTING_DOWN. Call it once nothing is
   * running (after draining): terminating a worker inside onnxruntime's native `run` aborts the
   * process.
   */
  async terminate(): Promise<void> {
    this.stopped = true;
    for (const t of this.restartTimers) clearTimeout(t);
    const slots = this.slots.splice(0);
    for (const s of slots) s.batch?.reject(shuttingDown());
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  private run(
    slot: WorkerSlot,
    images: readonly ModelImage[],
    options: readonly DecodeOptions[],
    wide: boolean,
  ): Promise<BatchOutput> {
    const id = this.nextId++;
    const msg: RunMessage = { type: 'run', id, images, options, wide };
    return new Promise((resolve, reject) => {
      slot.batch = { id, size: images.length, resolve, reject };
      try {
        slot.worker.postMessage(msg, transferList(images));
      } catch (err) {
        // The message could not be cloned (pixels whose buffer was transferred elsewhere): fail
        // these images rather than leave the worker marked busy forever.
        slot.batch = undefined;
        reject(new Error(`could not hand the batch to a worker: ${(err as Error).message}`));
      }
    });
  }

  /**
   * Starts one worker; resolves once it is warm.
   * @param index the worker's number (a replacement takes the number of the worker it replaces)
   * @param replacement it replaces a worker that failed: if it fails too, it is replaced in turn
   */
  private spawn(index: number, replacement = false): Promise<ReadyMessage> {
    const init = this.workerInit(index);
    const worker = new Worker(this.options.workerScript, { workerData: init });
    const slot: WorkerSlot = { worker, ready: false, warmed: false, wide: init.wideIntraOpThreads !== undefined };
    this.slots.push(slot);
    const log = this.options.logger.child({ worker: worker.threadId, deviceId: init.deviceId });
    return new Promise((resolve, reject) => {
      worker.on('message', (msg: WorkerMessage) => {
        if (msg.type === 'ready') {
          this.warmed(slot, msg, log);
          resolve(msg);
        } else if (msg.type === 'fatal') {
          reject(new Error(msg.message));
          void worker.terminate();
        } else if (msg.type === 'failed') this.retire(slot, msg, log);
        else this.settle(slot, msg);
      });
      worker.on('error', (err) => {
        log.error({ err }, 'inference worker crashed');
        reject(err);
      });
      worker.on('exit', (code) => {
        reject(new Error(`inference worker exited with code ${code} before it loaded the model`));
        // A first worker that fails to start fails start() instead.
        if (this.remove(slot) && (replacement || slot.warmed)) {
          log.error({ code }, 'inference worker exited');
          this.replace(index);
        }
      });
    });
  }

  private workerInit(index: number): WorkerInit {
    return {
      model: this.options.model,
      executionProviders: this.options.executionProviders,
      intraOpThreads: this.options.intraOpThreads,
      deviceId: index % (this.options.gpuCount ?? 1),
      maxBatchSize: this.options.maxBatchSize,
      nice: this.options.workerNice ?? 0,
      // One worker (the first, and its replacements) is enough: it only serves when all are idle.
      wideIntraOpThreads: index === 0 ? this.options.loneImageThreads : undefined,
    };
  }

  private warmed(slot: WorkerSlot, msg: ReadyMessage, log: Logger): void {
    for (const f of msg.failures)
      log.warn(
        { provider: f.provider, reason: f.reason },
        `execution provider ${f.provider} failed to load; trying the next one`,
      );
    slot.ready = true;
    slot.warmed = true;
    this.options.onIdle();
  }

  private settle(slot: WorkerSlot, msg: Extract<WorkerMessage, { type: 'result' | 'error' }>): void {
    const batch = slot.batch;
    if (!batch || batch.id !== msg.id) return;
    slot.batch = undefined;
    if (msg.type === 'error') batch.reject(new Error(`inference failed: ${msg.message}`));
    else {
      this.failuresInARow = 0;
      batch.resolve({ detections: msg.detections, timings: msg.timings });
    }
    this.notifyIfIdle();
    this.options.onIdle();
  }

  /**
   * session.run failed for a reason that is not the input's (e.g. a sticky CUDA error): the worker
   * may be unusable, so it is retired (it is idle now, so terminating is safe) and its exit
   * handler replaces it.
   */
  private retire(slot: WorkerSlot, msg: Extract<WorkerMessage, { type: 'failed' }>, log: Logger): void {
    log.error({ reason: msg.message }, 'inference failed; retiring the worker');
    slot.ready = false;
    if (slot.batch?.id === msg.id) {
      const why = `inference failed (${msg.message}); the worker is being replaced, retry`;
      slot.batch.reject(new ServingError('WORKER_FAILED', why));
      slot.batch = undefined;
      this.notifyIfIdle();
    }
    void slot.worker.terminate();
  }

  /**
   * Forgets a worker whose thread ended, failing the batch it held; false when it was stopped on
   * purpose (or the supervisor is stopping), so it is not to be replaced.
   */
  private remove(slot: WorkerSlot): boolean {
    const i = this.slots.indexOf(slot);
    if (i < 0) return false;
    this.slots.splice(i, 1);
    slot.batch?.reject(new ServingError('WORKER_FAILED', 'the inference worker running this image stopped; retry'));
    this.notifyIfIdle();
    return !this.stopped;
  }

  /**
   * Starts a replacement after a backoff that doubles with each failure in a row; gives up after
   * `maxRestarts` failures in a row. A replacement that fails to start exits and comes back here.
   */
  private replace(index: number): void {
    this.failuresInARow++;
    if (this.failuresInARow > this.options.maxRestarts) {
      this.giveUp();
      return;
    }
    const delayMs = Math.min(
      (this.options.restartBackoffMs ?? 250) * 2 ** (this.failuresInARow - 1),
      MAX_RESTART_BACKOFF_MS,
    );
    this.options.logger.warn({ failures: this.failuresInARow, delayMs }, 'starting a replacement inference worker');
    this.options.onRestart?.();
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      this.spawn(index, true).catch((err: Error) =>
        this.options.logger.error({ err }, 'replacement inference worker failed to start'),
      );
    }, delayMs);
    this.restartTimers.add(timer);
  }

  private notifyIfIdle(): void {
    if (this.inFlight > 0) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private giveUp(): void {
    const err = new Error(
      `inference workers failed ${this.failuresInARow} times in a row (WORKER_MAX_RESTARTS=${this.options.maxRestarts})`,
    );
    this.options.logger.fatal({ failures: this.failuresInARow }, err.message);
    this.stopped = true;
    this.options.onGiveUp(err);
  }
}

/**
 * The buffers to transfer, not copy: each image's pixels when it owns its whole buffer. (Never an
 * empty, possibly detached, buffer: Node drops a message whose transfer list holds one, silently.)
 */
function transferList(images: readonly ModelImage[]): ArrayBuffer[] {
  return [
    ...new Set(
      images
        .map((i) => i.pixels)
        .filter((px) => px.buffer instanceof ArrayBuffer && px.byteLength > 0 && px.byteLength === px.buffer.byteLength)
        .map((px) => px.buffer as ArrayBuffer),
    ),
  ];
}
