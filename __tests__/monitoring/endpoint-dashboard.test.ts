import { Testing } from 'cdktf';
import { EndpointDashboard } from '../../constructs';
import { ENDPOINT_ID, SERVER_METRIC_TYPES, endpointIn, resourcesOf } from './fixtures';

/** The parsed dashboard JSON of the only dashboard in a synthesized scope. */
function dashboardOf(synthesized: string): Record<string, any> {
  const dashboards = Object.values(resourcesOf(synthesized, 'google_monitoring_dashboard'));
  expect(dashboards).toHaveLength(1);
  expect(dashboards[0].project).toBe('acme-ml-dev');
  return JSON.parse(dashboards[0].dashboard_json);
}

describe('EndpointDashboard', () => {
  const dashboard = dashboardOf(
    Testing.synthScope((scope) => {
      new EndpointDashboard(scope, 'dashboard', { endpoint: endpointIn(scope), labels: { app: 'detector' } });
    }),
  );
  const charts: {
    title: string;
    xyChart: {
      dataSets: { timeSeriesQuery: { timeSeriesFilter: { filter: string; aggregation: Record<string, any> } } }[];
    };
  }[] = dashboard.mosaicLayout.tiles.map((t: { widget: unknown }) => t.widget);
  const filtersOf = (titlePart: string) =>
    charts.find((c) => c.title.includes(titlePart))?.xyChart.dataSets.map((d) => d.timeSeriesQuery.timeSeriesFilter) ??
    [];

  test('charts traffic, latency percentiles, errors, replicas, GPU and CPU', () => {
    // THEN
    expect(charts.map((c) => c.title)).toEqual([
      'Traffic: predictions per second',
      'Responses per second by status',
      'Latency p50 / p95 / p99 (ms)',
      'Errors per second (failed predictions, 5xx responses)',
      'Replicas: active and target',
      'GPU duty cycle (mean over replicas)',
      'CPU utilization (mean over replicas)',
    ]);
    expect(filtersOf('Latency').map((f) => f.aggregation.crossSeriesReducer)).toEqual([
      'REDUCE_PERCENTILE_50',
      'REDUCE_PERCENTILE_95',
      'REDUCE_PERCENTILE_99',
    ]);
    expect(filtersOf('Replicas').map((f) => f.filter.match(/prediction\/online\/(\w+)/)?.[1])).toEqual([
      'replicas',
      'target_replicas',
    ]);
  });

  test('every line is filtered to the endpoint and split per deployed model', () => {
    // GIVEN
    const all = charts.flatMap((c) => c.xyChart.dataSets.map((d) => d.timeSeriesQuery.timeSeriesFilter));
    expect(all).toHaveLength(11); // 1 + 1 + 3 + 2 + 2 + 1 + 1 lines
    for (const f of all) {
      expect(f.filter).toContain(`resource.labels.endpoint_id = "${ENDPOINT_ID}"`);
      expect(f.aggregation.groupByFields[0]).toBe('metric.label.deployed_model_id');
    }
    expect(filtersOf('by status')[0].aggregation.groupByFields).toEqual([
      'metric.label.deployed_model_id',
      'metric.label.response_code',
    ]);
  });

  test('lays tiles out two a row on the 48-column grid, and carries the labels', () => {
    // GIVEN
    const tiles = dashboard.mosaicLayout.tiles as { xPos: number; yPos: number; width: number }[];
    expect(dashboard.mosaicLayout.columns).toBe(48);
    expect(tiles.slice(0, 3).map((t) => [t.xPos ?? 0, t.yPos ?? 0, t.width])).toEqual([
      [0, 0, 24],
      [24, 0, 24],
      [0, 16, 24],
    ]);
    expect(dashboard.labels).toEqual({ app: 'detector' });
    expect(dashboard.displayName).toBe('Vertex endpoint stack/endpoint');
  });

  test('holds no default value the API would drop (which would show as a change on every plan)', () => {
    // GIVEN every [path, value] of the dashboard JSON
    const leaves: [string, unknown][] = [];
    const walk = (v: unknown, at: string): void => {
      if (Array.isArray(v) && v.length > 0) {
        for (const [i, x] of v.entries()) walk(x, `${at}[${i}]`);
      } else if (v !== null && typeof v === 'object' && Object.keys(v).length > 0) {
        for (const [k, x] of Object.entries(v)) walk(x, `${at}.${k}`);
      } else leaves.push([at, v]);
    };
    walk(dashboard, '');
    // THEN: no zero, empty string, empty list or empty object, and no defaulted option
    expect(leaves.filter(([, v]) => v === 0 || v === '' || (typeof v === 'object' && v !== null))).toEqual([]);
    expect(leaves.filter(([at]) => /targetAxis|chartOptions/.test(at))).toEqual([]);
  });
});

describe('EndpointDashboard with serverMetrics', () => {
  const dashboard = dashboardOf(
    Testing.synthScope((scope) => {
      new EndpointDashboard(scope, 'dashboard', { endpoint: endpointIn(scope), serverMetrics: SERVER_METRIC_TYPES });
    }),
  );
  const tiles: { xPos?: number; yPos?: number; width: number; widget: Record<string, any> }[] =
    dashboard.mosaicLayout.tiles;
  const header = tiles.findIndex((t) => t.widget.title === 'Server internals');
  const server = tiles.slice(header + 1);

  test('adds a full-width "Server internals" section header below the endpoint charts, then six charts two a row', () => {
    // THEN the 7 endpoint charts take 4 rows of 16; the header follows, then the server charts
    expect(header).toBe(7);
    expect(tiles[header]).toMatchObject({ yPos: 64, width: 48, widget: { sectionHeader: { dividerBelow: true } } });
    expect(server.map((t) => [t.xPos ?? 0, t.yPos])).toEqual([
      [0, 68],
      [24, 68],
      [0, 84],
      [24, 84],
      [0, 100],
      [24, 100],
    ]);
    expect(server.map((t) => t.widget.title)).toEqual([
      'Queue wait p50 / p99 (s)',
      'Images in the queue (sum over replicas)',
      'Stage time p99 by stage (s)',
      'Batch size (mean images per session.run)',
      'Requests per second by outcome (QUEUE_FULL is a 429)',
      'Inference worker restarts',
    ]);
  });

  test("every server line is filtered to the endpoint's replicas (generic_task namespace) and split per deployed model", () => {
    // GIVEN
    const filters = server.flatMap((t) =>
      t.widget.xyChart.dataSets.map(
        (d: { timeSeriesQuery: { timeSeriesFilter: Record<string, any> } }) => d.timeSeriesQuery.timeSeriesFilter,
      ),
    );
    // THEN
    expect(filters).toHaveLength(7);
    for (const f of filters) {
      expect(f.filter).toContain(`resource.type = "generic_task" AND resource.labels.namespace = "${ENDPOINT_ID}"`);
      expect(f.aggregation.groupByFields[0]).toBe('metric.label.deployed_model_id');
    }
    // AND stages and outcomes are lines of their own, health checks left out of the outcomes
    expect(filters[3].aggregation.groupByFields).toEqual(['metric.label.deployed_model_id', 'metric.label.stage']);
    expect(filters[5].aggregation.groupByFields).toEqual(['metric.label.deployed_model_id', 'metric.label.code']);
    expect(filters[5].filter).toContain('metric.labels.route != "health"');
  });

  test('a serverMetrics entry that is not a metric type is refused, naming it', () => {
    expect(() =>
      Testing.synthScope((scope) => {
        new EndpointDashboard(scope, 'dashboard', {
          endpoint: endpointIn(scope),
          serverMetrics: { ...SERVER_METRIC_TYPES, queueWait: 'serving/queue_wait' },
        });
      }),
    ).toThrow(/queueWait: "serving\/queue_wait" is not allowed; expected a metric type/);
  });
});
