import { Construct } from 'constructs';
import { type MonitoringMetric } from './metric';
import { type ServerMetricTypes, serverMetrics } from './server-metrics';
import { monitoringDashboard } from '../cdk';
import { type VertexEndpoint } from '../vertex/endpoint';

/** Props of {@link EndpointDashboard}. */
export interface EndpointDashboardProps {
  /** The endpoint shown. */
  readonly endpoint: VertexEndpoint;
  /**
   * Name of the dashboard in the console.
   * @default - `Vertex endpoint <construct path>`
   */
  readonly displayName?: string;
  /**
   * Dashboard labels (inside the dashboard JSON; the Terraform resource itself takes none).
   * @default - none
   */
  readonly labels?: Record<string, string>;
  /**
   * The metrics the serving image writes from inside its replicas: with them, a "Server internals"
   * section charts queue wait, queue depth, stage times, batch sizes, outcomes and worker restarts.
   * @default - no server internals section
   */
  readonly serverMetrics?: ServerMetricTypes;
}

/** One chart: its title, unit and lines. */
interface Chart {
  readonly title: string;
  readonly unit: string;
  readonly lines: Line[];
}

/** One line (or set of lines, one per deployed model) of a chart. */
interface Line {
  readonly metric: MonitoringMetric;
  /** Extra grouping, e.g. by response code. */
  readonly groupBy?: readonly string[];
}

/** The dashboard grid is 48 columns wide; two charts a row. */
const COLUMNS = 48;
const TILE_WIDTH = 24;
const TILE_HEIGHT = 16;
const HEADER_HEIGHT = 4;

/**
 * The Monitoring API drops fields at their default value (zero tile positions, empty lists...) from the dashboard it returns, and the provider reports each one as a change on
 * every plan (https://github.com/hashicorp/terraform-provider-google/issues/16173). So the JSON
 * written here never holds a default value: a clean `cdktf diff` stays clean.
 */
function nonZero(key: 'xPos' | 'yPos', value: number): Record<string, number> {
  return value === 0 ? {} : { [key]: value };
}

/**
 * A Cloud Monitoring dashboard for one Vertex AI endpoint: traffic, latency percentiles, errors,
 * replicas, GPU and CPU utilization, each line per deployed model, built from the same metric
 * definitions as {@link EndpointAlarms} so a chart shows exactly what its alert evaluates.
 */
export class EndpointDashboard extends Construct {
  /** The underlying Terraform resource. */
  readonly resource: monitoringDashboard.MonitoringDashboard;

  constructor(scope: Construct, id: string, props: EndpointDashboardProps) {
    super(scope, id);
    const e = props.endpoint;
    const charts: Chart[] = [
      { title: 'Traffic: predictions per second', unit: '1/s', lines: [{ metric: e.metricPredictions() }] },
      {
        title: 'Responses per second by status',
        unit: '1/s',
        lines: [{ metric: e.metricResponses(), groupBy: ['metric.label.response_code'] }],
      },
      {
        title: 'Latency p50 / p95 / p99 (ms)',
        unit: 'ms',
        lines: ([50, 95, 99] as const).map((p) => ({ metric: e.metricLatency(p) })),
      },
      {
        title: 'Errors per second (failed predictions, 5xx responses)',
        unit: '1/s',
        lines: [{ metric: e.metricErrors() }, { metric: e.metricResponses(5) }],
      },
      {
        title: 'Replicas: active and target',
        unit: '1',
        lines: [{ metric: e.metricReplicas() }, { metric: e.metricTargetReplicas() }],
      },
      { title: 'GPU duty cycle (mean over replicas)', unit: '10^2.%', lines: [{ metric: e.metricGpuDutyCycle() }] },
      { title: 'CPU utilization (mean over replicas)', unit: '10^2.%', lines: [{ metric: e.metricCpuUtilization() }] },
    ];
    const tiles = chartTiles(charts, 0);
    if (props.serverMetrics) {
      const top = Math.ceil(charts.length / 2) * TILE_HEIGHT;
      tiles.push({
        yPos: top,
        width: COLUMNS,
        height: HEADER_HEIGHT,
        widget: {
          title: 'Server internals',
          sectionHeader: {
            subtitle:
              'Written by the serving image from inside each replica (serving-image/README.md#cloud-monitoring), per deployed model',
            dividerBelow: true,
          },
        },
      });
      tiles.push(...chartTiles(serverCharts(props.serverMetrics, e), top + HEADER_HEIGHT));
    }

    this.resource = new monitoringDashboard.MonitoringDashboard(this, 'Resource', {
      project: props.endpoint.project,
      dashboardJson: JSON.stringify({
        displayName: props.displayName ?? `Vertex endpoint ${props.endpoint.node.path}`,
        ...(props.labels ? { labels: props.labels } : {}),
        mosaicLayout: { columns: COLUMNS, tiles },
      }),
    });
  }
}

/** The "Server internals" charts: what the serving image reports from inside its replicas. */
function serverCharts(types: ServerMetricTypes, endpoint: VertexEndpoint): Chart[] {
  const m = serverMetrics(types, endpoint);
  return [
    { title: 'Queue wait p50 / p99 (s)', unit: 's', lines: [{ metric: m.queueWait(50) }, { metric: m.queueWait(99) }] },
    { title: 'Images in the queue (sum over replicas)', unit: '1', lines: [{ metric: m.queueDepth() }] },
    {
      title: 'Stage time p99 by stage (s)',
      unit: 's',
      lines: [{ metric: m.stageDuration(99), groupBy: ['metric.label.stage'] }],
    },
    { title: 'Batch size (mean images per session.run)', unit: '1', lines: [{ metric: m.batchSize() }] },
    {
      title: 'Requests per second by outcome (QUEUE_FULL is a 429)',
      unit: '1/s',
      lines: [{ metric: m.requests(), groupBy: ['metric.label.code'] }],
    },
    { title: 'Inference worker restarts', unit: '1', lines: [{ metric: m.workerRestarts() }] },
  ];
}

/** Two charts a row from grid row `top`. */
function chartTiles(charts: readonly Chart[], top: number): Record<string, unknown>[] {
  return charts.map((c, i) => ({
    ...nonZero('xPos', (i % 2) * TILE_WIDTH),
    ...nonZero('yPos', top + Math.floor(i / 2) * TILE_HEIGHT),
    width: TILE_WIDTH,
    height: TILE_HEIGHT,
    widget: {
      title: c.title,
      xyChart: {
        dataSets: c.lines.map((line) => ({
          plotType: 'LINE',
          timeSeriesQuery: {
            unitOverride: c.unit,
            timeSeriesFilter: {
              filter: line.metric.filter,
              aggregation: withGroupBy(line.metric, line.groupBy),
            },
          },
        })),
        yAxis: { label: c.unit },
      },
    },
  }));
}

function withGroupBy(metric: MonitoringMetric, extra: readonly string[] = []): MonitoringMetric['apiAggregation'] {
  const agg = metric.apiAggregation;
  return extra.length === 0 ? agg : { ...agg, groupByFields: [...(agg.groupByFields ?? []), ...extra] };
}
