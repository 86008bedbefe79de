/**
 * The metrics the server writes to Cloud Monitoring: their names, kinds, units and labels. The one
 * source of truth for them: the server records with these names (metrics.ts), and the stack's
 * dashboard and saturation alert chart exactly these types (app/ passes them to
 * constructs/monitoring, which may not import the serving image). Pure data, so both sides can
 * import it: the serving image is its own Docker build context and imports nothing outside itself.
 */

/**
 * Prefix of every metric type: Google's OpenTelemetry exporter's default, the domain for
 * user-defined metrics written by workloads (https://cloud.google.com/monitoring/custom-metrics#identifier).
 */
export const DEFAULT_METRIC_PREFIX = 'workload.googleapis.com';

/**
 * Monitored resource of every point: `generic_task` (location, namespace, job, task_id), one of
 * the resources Cloud Monitoring accepts for user-defined metrics
 * (https://cloud.google.com/monitoring/custom-metrics/creating-metrics#which-resource).
 */
export const MONITORED_RESOURCE_TYPE = 'generic_task';

/** Labels on every point, telling replicas, versions and execution providers apart. */
export const COMMON_LABELS = [
  'deployed_model_id',
  'endpoint_id',
  'model_version',
  'replica',
  'execution_provider',
] as const;

/** One metric: its OpenTelemetry instrument name (the type is `<prefix>/<name>`), kind and unit. */
export interface ServerMetricDescriptor {
  readonly name: string;
  /** `distribution` (a histogram), `counter` (cumulative) or `gauge`. */
  readonly kind: 'distribution' | 'counter' | 'gauge';
  /** UCUM unit, as Cloud Monitoring takes it. */
  readonly unit: string;
  readonly description: string;
  /** Labels beyond {@link COMMON_LABELS}, present on every point of the metric. */
  readonly labels: readonly string[];
}

/** The server's Cloud Monitoring metrics. */
export const SERVER_METRICS = {
  queueWait: {
    name: 'serving/queue_wait',
    kind: 'distribution',
    unit: 's',
    description: 'Time an image waited in the queue, whether it then ran, timed out or was dropped.',
    labels: [],
  },
  batchSize: {
    name: 'serving/batch_size',
    kind: 'distribution',
    unit: '1',
    description: 'Images per session.run.',
    labels: [],
  },
  stageDuration: {
    name: 'serving/stage_duration',
    kind: 'distribution',
    unit: 's',
    description:
      'Time of one stage: preprocess (decoding and resizing one image), input (one batch into the tensor), inference (session.run of one batch), postprocess (decoding and NMS of one batch).',
    labels: ['stage'],
  },
  requests: {
    name: 'serving/requests',
    kind: 'counter',
    unit: '1',
    description:
      'HTTP requests answered, by route, status and outcome code (OK, or the error code of the body, e.g. QUEUE_FULL for a 429).',
    labels: ['route', 'status', 'code'],
  },
  workerRestarts: {
    name: 'serving/worker_restarts',
    kind: 'counter',
    unit: '1',
    description: 'Replacement inference workers started after one died or failed.',
    labels: [],
  },
  queueDepth: {
    name: 'serving/queue_depth',
    kind: 'gauge',
    unit: '1',
    description: 'Images waiting for a worker.',
    labels: [],
  },
} as const satisfies Record<string, ServerMetricDescriptor>;

/** Values of the `stage` label of {@link SERVER_METRICS}.stageDuration. */
export type Stage = 'preprocess' | 'input' | 'inference' | 'postprocess';

/** The `code` label of a successful request. */
export const OK_CODE = 'OK';

/** The full Cloud Monitoring metric type of `metric`, e.g. `workload.googleapis.com/serving/queue_wait`. */
export function metricType(metric: ServerMetricDescriptor, prefix: string = DEFAULT_METRIC_PREFIX): string {
  return `${prefix.replace(/\/+$/, '')}/${metric.name}`;
}
