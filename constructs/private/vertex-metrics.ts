import { MonitoringMetric } from '../monitoring/metric';

/**
 * The Vertex AI online-prediction metrics of one endpoint, shared by the alarms and the dashboard.
 *
 * Names, kinds and units checked against the Cloud Monitoring metrics list
 * (https://cloud.google.com/monitoring/api/metrics_gcp_a_b#gcp-aiplatform), all on the monitored
 * resource `aiplatform.googleapis.com/Endpoint`:
 * - `prediction/online/prediction_latencies`: DELTA DISTRIBUTION, ms; label `latency_type`
 *   (`total` always, `model`/`overhead` for custom containers), `deployed_model_id`;
 * - `prediction/online/prediction_count`, `error_count`: DELTA INT64;
 * - `prediction/online/response_count`: DELTA INT64, label `response_code` (documented as the
 *   classes 1xx to 5xx; a `starts_with` match works whether it holds `5xx` or `503`);
 * - `prediction/online/replicas`, `target_replicas`: GAUGE INT64, sampled every 60 s;
 * - `prediction/online/accelerator/duty_cycle`, `cpu/utilization`: GAUGE DOUBLE in `10^2.%`
 *   (a fraction: 0.95 is 95 %), one series per replica (`replica_id`).
 *
 * Aligners follow the kind: a DELTA count becomes a rate (ALIGN_RATE, per second) and is summed
 * across series; a distribution keeps its buckets per period (ALIGN_DELTA) and the percentile is
 * taken across the merged buckets (REDUCE_PERCENTILE_xx), which is exact, unlike averaging
 * per-series percentiles; a gauge is averaged per period. Everything is grouped by
 * `deployed_model_id` so a canary with 10 % of the traffic is seen on its own.
 */

/** Monitored resource type of Vertex AI endpoints. */
const ENDPOINT_RESOURCE = 'aiplatform.googleapis.com/Endpoint';
/** Prefix of every online-prediction metric type. */
const PREFIX = 'aiplatform.googleapis.com/prediction/online/';
/** Vertex samples gauges every 60 s, so a shorter period only adds empty points. */
const PERIOD = 60;
/** Series are kept apart per deployed model. */
const BY_DEPLOYED_MODEL = ['metric.label.deployed_model_id'] as const;

/** The percentiles Cloud Monitoring can reduce a distribution to. */
export type LatencyPercentile = 50 | 95 | 99;

/** The metric builders for one endpoint, by its numeric id. */
export function vertexEndpointMetrics(endpointId: string) {
  const metric = (
    name: string,
    label: string,
    unit: string,
    aggregation: MonitoringMetric['aggregation'],
    metricFilters: string[] = [],
  ) =>
    new MonitoringMetric({
      metricType: PREFIX + name,
      resourceType: ENDPOINT_RESOURCE,
      resourceLabels: { endpoint_id: endpointId },
      metricFilters,
      aggregation,
      label,
      unit,
    });
  const rate = {
    alignmentPeriodSeconds: PERIOD,
    perSeriesAligner: 'ALIGN_RATE',
    crossSeriesReducer: 'REDUCE_SUM',
    groupByFields: BY_DEPLOYED_MODEL,
  };
  const perReplicaMean = {
    alignmentPeriodSeconds: PERIOD,
    perSeriesAligner: 'ALIGN_MEAN',
    crossSeriesReducer: 'REDUCE_MEAN',
    groupByFields: BY_DEPLOYED_MODEL,
  };
  const replicaCount = {
    alignmentPeriodSeconds: PERIOD,
    perSeriesAligner: 'ALIGN_MEAN',
    crossSeriesReducer: 'REDUCE_SUM',
    groupByFields: BY_DEPLOYED_MODEL,
  };

  return {
    /** End-to-end (`latency_type="total"`) prediction latency at a percentile, ms. */
    latency: (percentile: LatencyPercentile = 99) =>
      metric(
        'prediction_latencies',
        `p${percentile} latency`,
        'ms',
        {
          alignmentPeriodSeconds: PERIOD,
          perSeriesAligner: 'ALIGN_DELTA',
          crossSeriesReducer: `REDUCE_PERCENTILE_${percentile}`,
          groupByFields: BY_DEPLOYED_MODEL,
        },
        ['metric.labels.latency_type = "total"'],
      ),
    /** Predictions per second. */
    predictions: () => metric('prediction_count', 'predictions', '1/s', rate),
    /** Failed predictions per second. */
    errors: () => metric('error_count', 'errors', '1/s', rate),
    /** Responses per second, optionally only one HTTP status class (`5` for 5xx). */
    responses: (statusClass?: 2 | 4 | 5) =>
      metric(
        'response_count',
        statusClass ? `${statusClass}xx responses` : 'responses',
        '1/s',
        rate,
        statusClass ? [`metric.labels.response_code = starts_with("${statusClass}")`] : [],
      ),
    /** Active replicas. */
    replicas: () => metric('replicas', 'replicas', '1', replicaCount),
    /** Replicas the autoscaler wants. */
    targetReplicas: () => metric('target_replicas', 'target replicas', '1', replicaCount),
    /** GPU duty cycle, mean over replicas, as a fraction (0.95 = 95 %). */
    gpuDutyCycle: () => metric('accelerator/duty_cycle', 'GPU duty cycle', '10^2.%', perReplicaMean),
    /** CPU utilization, mean over replicas, as a fraction (may exceed 1 on multi-core machines). */
    cpuUtilization: () => metric('cpu/utilization', 'CPU utilization', '10^2.%', perReplicaMean),
  };
}

/**
 * A metric type's PromQL name: the first `/` becomes `:`, every other `.` and `/` becomes `_`
 * (https://cloud.google.com/monitoring/promql/promql-mapping).
 */
export function promQlMetricName(metricType: string): string {
  return metricType.replace('/', ':').replace(/[^A-Za-z0-9_:]/g, '_');
}

/**
 * PromQL that returns a series while the endpoint has replicas running but none of its responses
 * (`response_count`, the metric the error-rate alarm divides by) arrived in the last
 * `lookbackMinutes`. Endpoint metrics' points can become visible up to 6 minutes after sampling
 * (metrics list), so the look-back must be longer than that. `unless` keeps the left side when the right side has no
 * series at all, which is exactly the case of a metric that never reported under this name.
 * Replicas of `ignoredDeployedModelIds` are not counted.
 */
export function noResponsesWhileRunningQuery(
  endpointId: string,
  lookbackMinutes: number,
  ignoredDeployedModelIds: readonly string[] = [],
): string {
  const selector = (name: string, extra = '') =>
    `${promQlMetricName(PREFIX + name)}{monitored_resource="${ENDPOINT_RESOURCE}",endpoint_id="${endpointId}"${extra}}`;
  // Replicas of the ignored deployed models (those that scale to zero) do not count as running.
  const ignored =
    ignoredDeployedModelIds.length > 0 ? `,deployed_model_id!~"${ignoredDeployedModelIds.join('|')}"` : '';
  return `sum(${selector('replicas', ignored)}) > 0 unless sum(count_over_time(${selector('response_count')}[${lookbackMinutes}m]))`;
}

/** The builders returned by {@link vertexEndpointMetrics}. */
export type VertexEndpointMetrics = ReturnType<typeof vertexEndpointMetrics>;
