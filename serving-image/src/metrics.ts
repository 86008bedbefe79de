import {
  type Attributes,
  type Counter as OtelCounter,
  type Histogram as OtelHistogram,
  type Meter,
  ValueType,
  createNoopMeter,
} from '@opentelemetry/api';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { type BatchTimings } from './engine/protocol';
import { OK_CODE, SERVER_METRICS, type ServerMetricDescriptor, type Stage } from './metric-types';

// Up to 60 s: a request can wait REQUEST_TIMEOUT_MS (30 s by default) in the queue, then run.
const STAGE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64];
/** The `execution_provider` label until the model is loaded. */
const NO_PROVIDER = 'none';

/** Where the OpenTelemetry side of the metrics goes, and the labels of its every point. */
export interface OtelOptions {
  /** Meter of the Cloud Monitoring export (cloud-monitoring.ts). */
  readonly meter: Meter;
  /** `COMMON_LABELS` (metric-types.ts) but `execution_provider`, set by {@link ServerMetrics.setExecutionProvider}. */
  readonly labels: Readonly<Record<string, string>>;
}

/**
 * The server's metrics, recorded once by the methods below and fed to both sides: Prometheus
 * (`/metrics`, in its own registry: no global state, one per app in tests) and OpenTelemetry,
 * which exports to Cloud Monitoring when it is on (a no-op meter otherwise). Images per second is
 * `rate(serving_images_total[1m])` in PromQL: no gauge duplicates it.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'serving_http_requests_total',
    help: 'HTTP requests answered, by route and status.',
    labelNames: ['route', 'status'],
    registers: [this.registry],
  });
  private readonly latency = this.seconds(
    'serving_request_duration_seconds',
    'End-to-end latency of predict requests.',
  );
  private readonly queueWait = this.seconds('serving_queue_wait_seconds', SERVER_METRICS.queueWait.description);
  private readonly stages: Record<Stage, Histogram> = {
    preprocess: this.seconds('serving_preprocess_seconds', 'Decoding, orienting and resizing one image.'),
    input: this.seconds(
      'serving_input_seconds',
      "Padding one batch's resized images into the model's float input tensor, in the inference worker.",
    ),
    inference: this.seconds('serving_inference_seconds', 'session.run of one batch.'),
    postprocess: this.seconds('serving_postprocess_seconds', 'Decoding and NMS of one batch.'),
  };
  private readonly batchSize = new Histogram({
    name: 'serving_batch_size',
    help: SERVER_METRICS.batchSize.description,
    buckets: BATCH_BUCKETS,
    registers: [this.registry],
  });
  private readonly images = new Counter({
    name: 'serving_images_total',
    help: 'Images inferred.',
    registers: [this.registry],
  });
  private readonly workerRestarts = new Counter({
    name: 'serving_worker_restarts_total',
    help: SERVER_METRICS.workerRestarts.description,
    registers: [this.registry],
  });
  private readonly uploads = new Gauge({
    name: 'serving_uploads_in_progress',
    help: 'Predict requests admitted whose body is still arriving; each holds one image of queue room.',
    registers: [this.registry],
  });
  private readonly otel: {
    readonly queueWait: OtelHistogram;
    readonly batchSize: OtelHistogram;
    readonly stageDuration: OtelHistogram;
    readonly requests: OtelCounter;
    readonly workerRestarts: OtelCounter;
  };
  /** Labels of every OpenTelemetry point. */
  private common!: Attributes;
  /** {@link common} with each stage's label: built when the labels change, not on every point. */
  private stageLabels!: Map<Stage, Attributes>;

  constructor(queueDepth: () => number, otel?: OtelOptions) {
    new Gauge({
      name: 'serving_queue_depth',
      help: SERVER_METRICS.queueDepth.description,
      registers: [this.registry],
      collect() {
        this.set(queueDepth());
      },
    });
    collectDefaultMetrics({ register: this.registry });
    const meter = otel?.meter ?? createNoopMeter();
    this.setCommon({ ...otel?.labels, execution_provider: NO_PROVIDER });
    const histogram = (m: ServerMetricDescriptor, buckets: number[]) =>
      meter.createHistogram(m.name, {
        description: m.description,
        unit: m.unit,
        advice: { explicitBucketBoundaries: buckets },
      });
    const counter = (m: ServerMetricDescriptor) =>
      meter.createCounter(m.name, { description: m.description, unit: m.unit, valueType: ValueType.INT });
    this.otel = {
      queueWait: histogram(SERVER_METRICS.queueWait, STAGE_BUCKETS),
      batchSize: histogram(SERVER_METRICS.batchSize, BATCH_BUCKETS),
      stageDuration: histogram(SERVER_METRICS.stageDuration, STAGE_BUCKETS),
      requests: counter(SERVER_METRICS.requests),
      workerRestarts: counter(SERVER_METRICS.workerRestarts),
    };
    const { queueDepth: depth } = SERVER_METRICS;
    meter
      .createObservableGauge(depth.name, { description: depth.description, unit: depth.unit, valueType: ValueType.INT })
      // Only once the queue exists: a cumulative reader keeps reporting every label set it saw, so a
      // point observed while loading (execution_provider "none") would be reported forever.
      .addCallback((result) => {
        if (this.common.execution_provider !== NO_PROVIDER) result.observe(queueDepth(), this.common);
      });
  }

  /** A time histogram in this registry, with buckets from 1 ms to 60 s. */
  private seconds(name: string, help: string): Histogram {
    return new Histogram({ name, help, buckets: STAGE_BUCKETS, registers: [this.registry] });
  }

  /**
   * The execution provider the model runs on, a label of every OpenTelemetry point from now on.
   * Also starts the worker restart count at 0 under it, so that a chart shows 0 rather than no data.
   */
  setExecutionProvider(provider: string): void {
    this.setCommon({ ...this.common, execution_provider: provider });
    this.otel.workerRestarts.add(0, this.common);
  }

  /**
   * Records one answered request.
   * @param code the error code of the body (http-errors.ts), or undefined for a success
   * @param seconds end-to-end latency, recorded for predict requests
   */
  observeRequest(route: string, status: number, code: string | undefined, seconds?: number): void {
    this.requests.inc({ route, status });
    this.otel.requests.add(1, { ...this.common, route, status: String(status), code: code ?? OK_CODE });
    if (route === 'predict' && seconds !== undefined) this.latency.observe(seconds);
  }

  /** Records the time an image waited in the queue. */
  observeQueueWait(ms: number): void {
    this.queueWait.observe(ms / 1000);
    this.otel.queueWait.record(ms / 1000, this.common);
  }

  /** Records the decoding and resizing of one image. */
  observePreprocess(seconds: number): void {
    this.observeStage('preprocess', seconds);
  }

  /** Records one batch run by a worker. */
  observeBatch(size: number, timings: BatchTimings): void {
    this.batchSize.observe(size);
    this.otel.batchSize.record(size, this.common);
    this.observeStage('input', timings.inputMs / 1000);
    this.observeStage('inference', timings.inferenceMs / 1000);
    this.observeStage('postprocess', timings.postprocessMs / 1000);
    this.images.inc(size);
  }

  /** Counts a replacement inference worker started. */
  countWorkerRestart(): void {
    this.workerRestarts.inc();
    this.otel.workerRestarts.add(1, this.common);
  }

  /** Predict requests whose body is still arriving. */
  setUploads(uploads: number): void {
    this.uploads.set(uploads);
  }

  private observeStage(stage: Stage, seconds: number): void {
    this.stages[stage].observe(seconds);
    this.otel.stageDuration.record(seconds, this.stageLabels.get(stage));
  }

  private setCommon(common: Attributes): void {
    this.common = common;
    this.stageLabels = new Map((Object.keys(this.stages) as Stage[]).map((stage) => [stage, { ...common, stage }]));
  }
}
