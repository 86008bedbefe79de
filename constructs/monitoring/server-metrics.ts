import { MonitoringMetric } from './metric';
import { PropsValidator } from '../private/validation';
import { type VertexEndpoint } from '../vertex/endpoint';

/**
 * The Cloud Monitoring metric types the serving image writes from inside its replicas (queue,
 * batches, stages, outcomes), as the app passes them in: the serving image's
 * `src/metric-types.ts` is their one source of truth, which this library may not import (the
 * image is its own build context, and constructs/ never imports the app).
 *
 * Every point carries the labels `deployed_model_id`, `endpoint_id`, `model_version`, `replica`
 * and `execution_provider`, on the monitored resource {@link resourceType} whose `namespace` label
 * is the endpoint id.
 */
export interface ServerMetricTypes {
  /** Monitored resource of the points, e.g. `generic_task`. */
  readonly resourceType: string;
  /** Time an image waited in the queue: CUMULATIVE DISTRIBUTION, seconds. */
  readonly queueWait: string;
  /** Images per `session.run`: CUMULATIVE DISTRIBUTION. */
  readonly batchSize: string;
  /** Time of one stage, label `stage` (preprocess, input, inference, postprocess): CUMULATIVE DISTRIBUTION, seconds. */
  readonly stageDuration: string;
  /** Requests answered, labels `route`, `status`, `code` (OK or the error code): CUMULATIVE INT64. */
  readonly requests: string;
  /** Replacement inference workers started: CUMULATIVE INT64. */
  readonly workerRestarts: string;
  /** Images waiting for a worker: GAUGE INT64. */
  readonly queueDepth: string;
}

/** A user-defined metric type: `<domain>/<path>` (https://cloud.google.com/monitoring/custom-metrics#identifier). */
const METRIC_TYPE = /^[a-z0-9.-]+\.googleapis\.com(\/[A-Za-z0-9_]+)+$/;

/** The server's export interval is a minute by default: a shorter period only adds empty points. */
const PERIOD = 60;
/** Series are kept apart per deployed model, as the endpoint's own metrics are. */
const BY_DEPLOYED_MODEL = ['metric.label.deployed_model_id'] as const;

/** The percentiles Cloud Monitoring can reduce a distribution to. */
export type ServerPercentile = 50 | 95 | 99;

/**
 * The server's metrics of one endpoint, shared by the dashboard and the alarms. Cumulative
 * distributions keep their buckets per period (ALIGN_DELTA) and the percentile is taken across the
 * merged buckets of every replica (REDUCE_PERCENTILE_xx); counters become rates.
 * @throws Error naming each prop of `types` that is not a metric type
 */
export function serverMetrics(types: ServerMetricTypes, endpoint: VertexEndpoint) {
  const v = new PropsValidator('serverMetrics');
  for (const [key, value] of Object.entries(types)) {
    if (key !== 'resourceType')
      v.matches(key, value as string, METRIC_TYPE, 'a metric type such as workload.googleapis.com/serving/queue_wait');
  }
  v.check(types.resourceType !== '', 'resourceType', types.resourceType, 'a monitored resource type').throwIfInvalid(
    endpoint.node.path,
  );
  const metric = (
    metricType: string,
    label: string,
    unit: string,
    aggregation: Omit<MonitoringMetric['aggregation'], 'alignmentPeriodSeconds' | 'groupByFields'>,
    metricFilters: string[] = [],
  ) =>
    new MonitoringMetric({
      metricType,
      resourceType: types.resourceType,
      resourceLabels: { namespace: endpoint.endpointIdLiteral },
      metricFilters,
      aggregation: { alignmentPeriodSeconds: PERIOD, groupByFields: BY_DEPLOYED_MODEL, ...aggregation },
      label,
      unit,
    });
  const percentile = (p: ServerPercentile) => ({
    perSeriesAligner: 'ALIGN_DELTA',
    crossSeriesReducer: `REDUCE_PERCENTILE_${p}`,
  });
  return {
    /** Queue wait at a percentile over the replicas, seconds. */
    queueWait: (p: ServerPercentile = 99) => metric(types.queueWait, `p${p} queue wait`, 's', percentile(p)),
    /** Mean images per `session.run`. */
    batchSize: () =>
      metric(types.batchSize, 'mean batch size', '1', {
        perSeriesAligner: 'ALIGN_DELTA',
        crossSeriesReducer: 'REDUCE_MEAN',
      }),
    /** Stage time at a percentile, seconds; group by `metric.label.stage` for one line per stage. */
    stageDuration: (p: ServerPercentile = 99) => metric(types.stageDuration, `p${p} stage time`, 's', percentile(p)),
    /** Requests answered per second, health checks apart; group by `metric.label.code` for the outcomes. */
    requests: () =>
      metric(types.requests, 'requests', '1/s', { perSeriesAligner: 'ALIGN_RATE', crossSeriesReducer: 'REDUCE_SUM' }, [
        'metric.labels.route != "health"',
      ]),
    /** Replacement inference workers started per period. */
    workerRestarts: () =>
      metric(types.workerRestarts, 'worker restarts', '1', {
        perSeriesAligner: 'ALIGN_DELTA',
        crossSeriesReducer: 'REDUCE_SUM',
      }),
    /** Images waiting for a worker, summed over the replicas (the most seen in each period per replica). */
    queueDepth: () =>
      metric(types.queueDepth, 'images in queue', '1', {
        perSeriesAligner: 'ALIGN_MAX',
        crossSeriesReducer: 'REDUCE_SUM',
      }),
  };
}
