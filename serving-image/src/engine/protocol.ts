import { type DecodeOptions, type Letterbox, type RawDetection } from '../postprocess';

/** `workerData` of an inference worker. */
export interface WorkerInit {
  /** The ONNX model. */
  readonly model: Uint8Array;
  /** Execution providers, tried in order. */
  readonly executionProviders: readonly string[];
  /** onnxruntime intra-op threads. */
  readonly intraOpThreads: number;
  /** GPU the CUDA and TensorRT providers use. */
  readonly deviceId: number;
  /** Largest batch the pool sends (a dynamic batch is warmed up at this size too). */
  readonly maxBatchSize: number;
  /** Nice value of the worker's threads (0 keeps the process's priority); see lowerThreadPriority. */
  readonly nice: number;
  /**
   * When set, the worker also holds a second session with this many intra-op threads, for a lone
   * image ({@link RunMessage.wide}); see `loneImageThreads` in the server configuration.
   */
  readonly wideIntraOpThreads?: number;
}

/** What the model expects, as the worker found it. */
export interface ModelShape {
  readonly inputName: string;
  /** Static batch size, or null when the batch dimension is dynamic. */
  readonly batch: number | null;
  readonly height: number;
  readonly width: number;
  /** Output dimensions of the warm-up run (batch = `batch ?? 1`). */
  readonly outputDims: readonly number[];
}

/** One image for the model: its resized pixels and where they go in the padded input. */
export interface ModelImage {
  /** Resized RGB pixels, HWC, `letterbox.width * letterbox.height * 3` bytes, without the padding. */
  readonly pixels: Uint8Array;
  readonly letterbox: Letterbox;
}

/** Main thread → worker: run one batch. */
export interface RunMessage {
  readonly type: 'run';
  readonly id: number;
  readonly images: readonly ModelImage[];
  /** Decoding options per image. */
  readonly options: readonly DecodeOptions[];
  /** Run it on the worker's wide session (every core), which only a worker started with one has. */
  readonly wide?: boolean;
}

/** How long a worker spent on one batch, in ms. */
export interface BatchTimings {
  /** Padding the images into the model's float input tensor. */
  readonly inputMs: number;
  /** `session.run`. */
  readonly inferenceMs: number;
  /** Decoding the output and NMS. */
  readonly postprocessMs: number;
}

/** Worker → main thread. */
export type WorkerMessage =
  | {
      readonly type: 'ready';
      /** The execution provider the session runs on. */
      readonly provider: string;
      /** Providers that failed to load before it, with the reason. */
      readonly failures: readonly { readonly provider: string; readonly reason: string }[];
      readonly shape: ModelShape;
      readonly warmupMs: number;
    }
  | { readonly type: 'fatal'; readonly message: string }
  | {
      readonly type: 'result';
      readonly id: number;
      readonly detections: readonly RawDetection[][];
      readonly timings: BatchTimings;
    }
  /** The batch could not be run because of its input; the worker goes on. */
  | { readonly type: 'error'; readonly id: number; readonly message: string }
  /** `session.run` failed for a reason that is not the input's: the worker is retired and replaced. */
  | { readonly type: 'failed'; readonly id: number; readonly message: string };
