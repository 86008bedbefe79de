import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { type BatchTimings } from './engine/protocol';

// Up to 60 s: a request can wait REQUEST_TIMEOUT_MS (30 s by default) in the queue, then run.
const STAGE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * The server's Prometheus metrics, in their own registry (no global state, one per app in tests).
 * Images per second is `rate(serving_images_total[1m])` in PromQL: no gauge duplicates it.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'serving_http_requests_total',
    help: 'HTTP requests answered, by route and status.',
    labelNames: ['route', 'status'],
    registers: [this.registry],
  });
  readonly latency = this.seconds('serving_request_duration_seconds', 'End-to-end latency of predict requests.');
  readonly queueWait = this.seconds(
    'serving_queue_wait_seconds',
    'Time an image waited in the queue, whether it then ran, timed out or was dropped.',
  );
  readonly preprocess = this.seconds('serving_preprocess_seconds', 'Decoding, orienting and resizing one image.');
  readonly input = this.seconds(
    'serving_input_seconds',
    "Padding one batch's resized images into the model's float input tensor, in the inference worker.",
  );
  readonly inference = this.seconds('serving_inference_seconds', 'session.run of one batch.');
  readonly postprocess = this.seconds('serving_postprocess_seconds', 'Decoding and NMS of one batch.');
  readonly batchSize = new Histogram({
    name: 'serving_batch_size',
    help: 'Images per session.run.',
    buckets: [1, 2, 4, 8, 16, 32, 64],
    registers: [this.registry],
  });
  readonly images = new Counter({ name: 'serving_images_total', help: 'Images inferred.', registers: [this.registry] });
  readonly uploads = new Gauge({
    name: 'serving_uploads_in_progress',
    help: 'Predict requests admitted whose body is still arriving; each holds one image of queue room.',
    registers: [this.registry],
  });

  constructor(queueDepth: () => number) {
    new Gauge({
      name: 'serving_queue_depth',
      help: 'Images waiting for a worker.',
      registers: [this.registry],
      collect() {
        this.set(queueDepth());
      },
    });
    collectDefaultMetrics({ register: this.registry });
  }

  /** A time histogram in this registry, with buckets from 1 ms to 60 s. */
  private seconds(name: string, help: string): Histogram {
    return new Histogram({ name, help, buckets: STAGE_BUCKETS, registers: [this.registry] });
  }

  /** Records one batch run by a worker. */
  observeBatch(size: number, timings: BatchTimings): void {
    this.batchSize.observe(size);
    this.input.observe(timings.inputMs / 1000);
    this.inference.observe(timings.inferenceMs / 1000);
    this.postprocess.observe(timings.postprocessMs / 1000);
    this.images.inc(size);
  }
}
