import { ServingError, shuttingDown } from '../errors';
import { type DecodeOptions, type OutputLayout, detectLayout } from '../postprocess';
import { type ModelImage, type ModelShape } from './protocol';
import { BatchScheduler, type InferenceResult, type SchedulerOptions } from './scheduler';
import { type ReadyMessage, type SupervisorOptions, WorkerSupervisor } from './supervisor';

/** Options of {@link InferencePool.start}. */
export interface InferencePoolOptions
  extends Omit<SupervisorOptions, 'onIdle' | 'onGiveUp'>,
    Omit<SchedulerOptions, 'maxBatch'> {
  /** Most images in one `session.run` (capped by a static batch dimension). */
  readonly maxBatchSize: number;
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

/** The inference engine: worker threads ({@link WorkerSupervisor}) fed from one batching queue ({@link BatchScheduler}). */
export class InferencePool {
  /**
   * Starts the workers and waits until every one has loaded the model and run its warm-up
   * inference. Failed execution providers are logged with the reason.
   * @throws Error when a worker cannot load the model
   */
  static async start(options: InferencePoolOptions): Promise<InferencePool> {
    // The workers announce themselves idle before the queue exists: nothing is queued yet then.
    let scheduler: BatchScheduler | undefined;
    const supervisor = new WorkerSupervisor({
      ...options,
      onIdle: () => scheduler?.pump(),
      onGiveUp: (err) => {
        scheduler?.close(new ServingError('WORKER_FAILED', 'no inference worker could be started'));
        options.onFatal?.(err);
      },
    });
    const model = loadedModel(await supervisor.start(), options);
    scheduler = new BatchScheduler(supervisor, { ...options, maxBatch: model.maxBatch });
    return new InferencePool(model, scheduler, supervisor);
  }

  private constructor(
    /** The loaded model. */
    readonly model: LoadedModel,
    private readonly scheduler: BatchScheduler,
    private readonly supervisor: WorkerSupervisor,
  ) {}

  /** Images waiting for a worker. */
  get queueDepth(): number {
    return this.scheduler.depth;
  }

  /**
   * At least one worker is loaded and can take work. False while every worker is being replaced
   * (the health route then answers 503, so the platform stops routing traffic here).
   */
  get healthy(): boolean {
    return this.supervisor.healthy;
  }

  /** Images being inferred. */
  get inFlight(): number {
    return this.supervisor.inFlight;
  }

  /** Whether `n` more images fit in the queue now. */
  hasRoom(n: number): boolean {
    return this.scheduler.hasRoom(n);
  }

  /** See {@link BatchScheduler.infer}; WORKER_FAILED when its worker died or failed. */
  infer(image: ModelImage, options: DecodeOptions, signal?: AbortSignal): Promise<InferenceResult> {
    return this.scheduler.infer(image, options, signal);
  }

  /**
   * Refuses queued and new images (SHUTTING_DOWN) and resolves once no worker is inside
   * `session.run`: from then on, exiting the process cannot abort it in onnxruntime's native code.
   */
  async stopRunning(): Promise<void> {
    this.scheduler.close(shuttingDown());
    await this.supervisor.whenIdle();
  }

  /**
   * Stops every worker; queued images are refused SHUTTING_DOWN. Call it once nothing is running
   * (after draining): terminating a worker inside onnxruntime's native `run` aborts the process.
   */
  async terminate(): Promise<void> {
    this.scheduler.close(shuttingDown());
    await this.supervisor.terminate();
  }
}

function loadedModel(ready: ReadyMessage, options: InferencePoolOptions): LoadedModel {
  const { shape, provider } = ready;
  const maxBatch = shape.batch === null ? options.maxBatchSize : Math.min(shape.batch, options.maxBatchSize);
  options.logger.info(
    { provider, input: shape, maxBatch, workers: options.workers, warmupMs: Math.round(ready.warmupMs) },
    'model loaded',
  );
  return { provider, shape, layout: detectLayout(shape.outputDims), maxBatch };
}
