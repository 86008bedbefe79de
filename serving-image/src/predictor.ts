import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import { annotateImage } from './annotate';
import { className } from './class-names';
import { type LoadedModel } from './engine/pool';
import { type InferenceResult } from './engine/scheduler';
import { type ModelImage } from './engine/protocol';
import { ServingError } from './errors';
import { type DecodeOptions, layoutClassCount, unletterboxBox } from './postprocess';
import { PixelBudget } from './pixel-budget';
import { type PreparedImage, prepareImage } from './preprocess';
import { type PredictParameters, type PredictRequest } from './request';

/** What the predict pipeline needs from the inference engine ({@link InferencePool} implements it). */
export interface Engine {
  readonly model: LoadedModel;
  /** At least one worker can take work. */
  readonly healthy: boolean;
  hasRoom(n: number): boolean;
  /** Aborting `signal` drops the image if it is still queued. */
  infer(image: ModelImage, options: DecodeOptions, signal?: AbortSignal): Promise<InferenceResult>;
}

/** One detection in a prediction. */
export interface Detection {
  readonly class: string;
  readonly class_id: number;
  readonly confidence: number;
  readonly bbox: { readonly xmin: number; readonly ymin: number; readonly xmax: number; readonly ymax: number };
}

/** One prediction, per instance. */
export interface Prediction {
  readonly detections: Detection[];
  readonly detection_count: number;
  readonly annotated_image?: string;
}

/** Options of {@link Predictor}. */
export interface PredictorOptions {
  readonly maxImagePixels: number;
  /**
   * Most decoded pixels in flight, decoding and annotating (DECODE_PIXEL_BUDGET).
   * @default - unbounded
   */
  readonly decodePixelBudget?: number;
  /** Told how long each image took to decode and resize. */
  readonly onPreprocess?: (seconds: number) => void;
}

/**
 * The predict pipeline on a loaded model: decode and resize each image, queue it for inference,
 * map its boxes back to the original image.
 */
export class Predictor {
  private readonly budget?: PixelBudget;

  constructor(
    private readonly engine: Engine,
    private readonly classNames: ReadonlyMap<number, string>,
    private readonly options: PredictorOptions,
  ) {
    if (options.decodePixelBudget !== undefined) this.budget = new PixelBudget(options.decodePixelBudget);
  }

  get healthy(): boolean {
    return this.engine.healthy;
  }

  /** Classes the model has, when its output says, to refuse unknown ids in `classes`. */
  get classCount(): number | undefined {
    return layoutClassCount(this.engine.model.layout);
  }

  hasRoom(images: number): boolean {
    return this.engine.hasRoom(images);
  }

  /**
   * One prediction per image, in order.
   * @param onDecoded called once every image is decoded (or one failed to), whatever happens next
   * @throws ServingError naming the first image that cannot be decoded or queued
   */
  async predict(req: PredictRequest, onDecoded?: () => void): Promise<Prediction[]> {
    const images = await this.prepare(req.images).finally(onDecoded);
    const results = await this.infer(images, decodeOptions(req.parameters));
    return Promise.all(
      results.map((r, i) => this.toPrediction(r, images[i], req.images[i], req.parameters.returnAnnotatedImage)),
    );
  }

  private async prepare(bytes: readonly Buffer[]): Promise<PreparedImage[]> {
    const prepared = await Promise.allSettled(bytes.map((b) => this.prepareOne(b)));
    const failed = prepared.findIndex((p) => p.status === 'rejected');
    if (failed >= 0) {
      const reason = (prepared[failed] as PromiseRejectedResult).reason;
      throw reason instanceof ServingError ? reason.at(failed) : reason;
    }
    return prepared.map((p) => (p as PromiseFulfilledResult<PreparedImage>).value);
  }

  private async prepareOne(bytes: Buffer): Promise<PreparedImage> {
    const { width, height } = this.engine.model.shape;
    const t0 = performance.now();
    const image = await prepareImage(bytes, width, height, this.options.maxImagePixels, this.budget);
    this.options.onPreprocess?.((performance.now() - t0) / 1000);
    return image;
  }

  /**
   * The first image that fails (queue full, timeout, worker failure) answers the request: the
   * request's other images still queued are dropped rather than inferred for nobody.
   */
  private infer(images: readonly PreparedImage[], decode: DecodeOptions): Promise<InferenceResult[]> {
    const abandon = new AbortController();
    // One listener per image (MAX_INSTANCES can be over Node's default warning threshold of 10).
    setMaxListeners(images.length + 1, abandon.signal);
    return Promise.all(
      images.map((img, i) =>
        this.engine.infer(img, decode, abandon.signal).catch((err: unknown) => {
          abandon.abort(new ServingError('QUEUE_TIMEOUT', 'dropped: another image of the request failed'));
          // The image the full queue turned away is named, as a bad image is; a timeout or a
          // worker failure is the server's, not the image's.
          return Promise.reject(err instanceof ServingError && err.code === 'QUEUE_FULL' ? err.at(i) : err);
        }),
      ),
    );
  }

  private async toPrediction(
    result: InferenceResult,
    image: PreparedImage,
    bytes: Buffer,
    annotate: boolean,
  ): Promise<Prediction> {
    const detections = result.detections.map((d) => {
      const b = unletterboxBox(d.box, image.letterbox, image.width, image.height);
      return {
        class: className(this.classNames, d.classId),
        class_id: d.classId,
        confidence: round(d.confidence, 4),
        bbox: { xmin: round(b.xmin, 2), ymin: round(b.ymin, 2), xmax: round(b.xmax, 2), ymax: round(b.ymax, 2) },
      };
    });
    const prediction: Prediction = { detections, detection_count: detections.length };
    if (!annotate) return prediction;
    const drawn = detections.map((d) => ({
      label: d.class,
      classId: d.class_id,
      confidence: d.confidence,
      bbox: d.bbox,
    }));
    // Drawing decodes the whole image again: it counts against the budget too.
    const release = this.budget ? await this.budget.acquire(image.width * image.height) : () => {};
    try {
      return {
        ...prediction,
        annotated_image: await annotateImage(bytes, image.width, image.height, drawn, this.options.maxImagePixels),
      };
    } finally {
      release();
    }
  }
}

function decodeOptions(p: PredictParameters): DecodeOptions {
  return { confidence: p.confidence, iou: p.iou, maxDetections: p.maxDetections, classes: p.classes };
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
