import { Construct } from 'constructs';
import { type MonitoringMetric } from './metric';
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
    const charts: { title: string; unit: string; lines: Line[] }[] = [
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
    const widgets = charts.map((c) => ({
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
    }));

    this.resource = new monitoringDashboard.MonitoringDashboard(this, 'Resource', {
      project: props.endpoint.project,
      dashboardJson: JSON.stringify({
        displayName: props.displayName ?? `Vertex endpoint ${props.endpoint.node.path}`,
        ...(props.labels ? { labels: props.labels } : {}),
        mosaicLayout: {
          columns: COLUMNS,
          tiles: widgets.map((widget, i) => ({
            ...nonZero('xPos', (i % 2) * TILE_WIDTH),
            ...nonZero('yPos', Math.floor(i / 2) * TILE_HEIGHT),
            width: TILE_WIDTH,
            height: TILE_HEIGHT,
            widget,
          })),
        },
      }),
    });
  }
}

function withGroupBy(metric: MonitoringMetric, extra: readonly string[] = []): MonitoringMetric['apiAggregation'] {
  const agg = metric.apiAggregation;
  return extra.length === 0 ? agg : { ...agg, groupByFields: [...(agg.groupByFields ?? []), ...extra] };
}
