import { Testing } from 'cdktf';
import { stacksFromYaml } from '../helpers/synth';
import { resourcesOf } from './fixtures';
import { MONITORED_RESOURCE_TYPE, SERVER_METRICS, metricType } from '../../serving-image/src/metric-types';

/** Every metric type the serving image writes, from its own list. */
const SERVER_TYPES = Object.values(SERVER_METRICS).map((m) => metricType(m));

const STACKS = `
environments:
  dev:
    project: acme-ml-dev
    labels: { app: detector }
    models:
      - name: yolo26n
        version: v3
        artifactUri: gs://acme-models/yolo26n/v3
        machine: { type: g2-standard-8, accelerator: NVIDIA_L4 }
        replicas: { min: 1, max: 4 }
        traffic: 90
      - name: yolo26n
        version: v4
        artifactUri: gs://acme-models/yolo26n/v4
        machine: { type: n1-standard-4 }
        replicas: { min: 1, max: 2 }
        traffic: 10
    alerts:
      emails: [oncall@acme.example]
      channels: ['777']
      latencyP99Ms: 250
      queueWaitP99Ms: 200
      queueWaitWindowMinutes: 20
      errorRatePercent: 0.5
      saturationWindowMinutes: 30
      noTrafficWindowMinutes: 120
      autoCloseMinutes: 240
`;

function synthStack(yaml: string): string {
  return Testing.synth(stacksFromYaml(yaml)[0]);
}

describe('ServingStack monitoring from stacks.yaml alerts:', () => {
  const synthesized = synthStack(STACKS);
  const policies = Object.values(resourcesOf(synthesized, 'google_monitoring_alert_policy'));
  const byName = (part: string) => policies.filter((p) => p.display_name.includes(part));

  test('creates latency, error-rate, no-traffic, server queue-wait, one saturation alarm per deployment and a GPU alarm', () => {
    // THEN
    expect(policies.map((p) => p.display_name).sort()).toEqual([
      'dev/endpoint: 5xx error rate above 0.5 %',
      'dev/endpoint: GPU duty cycle above 95 %',
      'dev/endpoint: p99 latency above 250 ms',
      'dev/endpoint: replicas running, no responses for 2 h',
      'dev/endpoint: server queue wait p99 above 200 ms',
      'dev/endpoint: yolo26n@v3 at its maximum of 4 replicas',
      'dev/endpoint: yolo26n@v4 at its maximum of 2 replicas',
    ]);
  });

  test('takes thresholds, windows and auto-close from alerts:', () => {
    // THEN
    expect(byName('p99')[0].conditions[0].condition_threshold.threshold_value).toBe(250);
    expect(byName('5xx')[0].conditions[0].condition_threshold.threshold_value).toBe(0.005);
    for (const p of byName('at its maximum')) expect(p.conditions[0].condition_threshold.duration).toBe('1800s');
    expect(byName('no responses')[0].conditions[0].condition_prometheus_query_language.duration).toBe('7200s');
    for (const p of policies) expect(p.alert_strategy.auto_close).toBe('14400s');
  });

  test('notifies an email channel per address and the existing channels, labelled like the environment', () => {
    // GIVEN
    const channels = Object.values(resourcesOf(synthesized, 'google_monitoring_notification_channel'));
    expect(channels).toEqual([
      expect.objectContaining({
        type: 'email',
        labels: { email_address: 'oncall@acme.example' },
        user_labels: { app: 'detector' },
      }),
    ]);
    for (const p of policies) {
      expect(p.notification_channels).toEqual([
        expect.stringMatching(/^\$\{google_monitoring_notification_channel\./),
        'projects/acme-ml-dev/notificationChannels/777',
      ]);
      expect(p.user_labels).toEqual({ app: 'detector' });
    }
  });

  test('creates no saturation alarm for a fixed-size deployment (min = max, or max omitted)', () => {
    // GIVEN
    const yaml = STACKS.replace('replicas: { min: 1, max: 4 }', 'replicas: { min: 2, max: 2 }').replace(
      'replicas: { min: 1, max: 2 }',
      'replicas: { min: 3 }',
    );
    // WHEN
    const names = Object.values(resourcesOf(synthStack(yaml), 'google_monitoring_alert_policy')).map(
      (p) => p.display_name,
    );
    // THEN the other alarms remain
    expect(names.filter((n) => n.includes('at its maximum'))).toEqual([]);
    expect(names).toEqual(
      expect.arrayContaining(['dev/endpoint: p99 latency above 250 ms', 'dev/endpoint: GPU duty cycle above 95 %']),
    );
  });

  test("the queue-wait alarm watches the server's queue_wait type on this endpoint, p99 per deployed model, threshold in seconds", () => {
    // GIVEN
    const [policy] = byName('server queue wait');
    const threshold = policy.conditions[0].condition_threshold;
    // THEN
    expect(threshold.filter).toMatch(
      new RegExp(
        `^resource.type = "${MONITORED_RESOURCE_TYPE}" AND resource.labels.namespace = "[^"]+" AND metric.type = "${metricType(SERVER_METRICS.queueWait)}"$`,
      ),
    );
    expect(threshold.aggregations).toEqual([
      {
        alignment_period: '60s',
        per_series_aligner: 'ALIGN_DELTA',
        cross_series_reducer: 'REDUCE_PERCENTILE_99',
        group_by_fields: ['metric.label.deployed_model_id'],
      },
    ]);
    expect(threshold.threshold_value).toBe(0.2);
    expect(threshold.duration).toBe('1200s');
  });

  test("the dashboard's server internals section charts exactly the metric types the serving image writes", () => {
    // GIVEN the dashboard's tiles after the section header
    const [dashboard] = Object.values(resourcesOf(synthesized, 'google_monitoring_dashboard'));
    const tiles: {
      widget: {
        title: string;
        xyChart?: { dataSets: { timeSeriesQuery: { timeSeriesFilter: { filter: string } } }[] };
      };
    }[] = JSON.parse(dashboard.dashboard_json).mosaicLayout.tiles;
    const header = tiles.findIndex((t) => t.widget.title === 'Server internals');
    const types = tiles
      .slice(header + 1)
      .flatMap((t) => t.widget.xyChart!.dataSets.map((d) => d.timeSeriesQuery.timeSeriesFilter.filter))
      .map((filter) => /metric\.type = "([^"]+)"/.exec(filter)![1]);
    // THEN every server metric is charted, and nothing else
    expect(header).toBeGreaterThan(0);
    expect(new Set(types)).toEqual(new Set(SERVER_TYPES));
  });

  test('adds the endpoint dashboard', () => {
    // GIVEN
    const dashboards = Object.values(resourcesOf(synthesized, 'google_monitoring_dashboard'));
    expect(dashboards).toHaveLength(1);
    expect(JSON.parse(dashboards[0].dashboard_json).displayName).toBe('Vertex endpoint dev/endpoint');
  });

  test('creates no GPU alarm when no deployment has a GPU', () => {
    // GIVEN
    const cpuOnly = synthStack(
      STACKS.replace('machine: { type: g2-standard-8, accelerator: NVIDIA_L4 }', 'machine: { type: n1-standard-8 }'),
    );
    const names = Object.values(resourcesOf(cpuOnly, 'google_monitoring_alert_policy')).map((p) => p.display_name);
    expect(names).toHaveLength(6);
    expect(names.join('\n')).not.toContain('GPU');
  });
});
