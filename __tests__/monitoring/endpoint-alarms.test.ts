import { AnnotationMetadataEntryType, TerraformStack, Testing } from 'cdktf';
import { MonitoringAlertPolicy } from '@cdktf/provider-google/lib/monitoring-alert-policy';
import { type Construct } from 'constructs';
import { EndpointAlarms, type EndpointAlarmsProps, NotificationChannels } from '../../constructs';
import { promQlMetricName } from '../../constructs/private/vertex-metrics';
import { ENDPOINT_ID, SERVER_METRIC_TYPES, deploymentOn, endpointIn, resourcesOf } from './fixtures';

const ENDPOINT_FILTER = `resource.type = "aiplatform.googleapis.com/Endpoint" AND resource.labels.endpoint_id = "${ENDPOINT_ID}"`;

/** Synthesizes alarms on a test endpoint; `build` adds the alarms under test. */
function synthAlarms(build: (alarms: EndpointAlarms) => void, props: Partial<EndpointAlarmsProps> = {}): string {
  return Testing.synthScope((scope: Construct) => {
    build(new EndpointAlarms(scope, 'alarms', { endpoint: endpointIn(scope), ...props }));
  });
}

/** The only alert policy of a synthesized scope. */
function onlyPolicy(synthesized: string): Record<string, any> {
  const policies = Object.values(resourcesOf(synthesized, 'google_monitoring_alert_policy'));
  expect(policies).toHaveLength(1);
  return policies[0];
}

describe('VertexEndpoint metrics', () => {
  const endpoint = endpointIn(new TerraformStack(Testing.app(), 'e'));

  test.each([
    ['metricLatency', () => endpoint.metricLatency(95), 'prediction_latencies', 'ALIGN_DELTA', 'REDUCE_PERCENTILE_95'],
    ['metricPredictions', () => endpoint.metricPredictions(), 'prediction_count', 'ALIGN_RATE', 'REDUCE_SUM'],
    ['metricErrors', () => endpoint.metricErrors(), 'error_count', 'ALIGN_RATE', 'REDUCE_SUM'],
    ['metricResponses', () => endpoint.metricResponses(), 'response_count', 'ALIGN_RATE', 'REDUCE_SUM'],
    ['metricReplicas', () => endpoint.metricReplicas(), 'replicas', 'ALIGN_MEAN', 'REDUCE_SUM'],
    ['metricTargetReplicas', () => endpoint.metricTargetReplicas(), 'target_replicas', 'ALIGN_MEAN', 'REDUCE_SUM'],
    ['metricGpuDutyCycle', () => endpoint.metricGpuDutyCycle(), 'accelerator/duty_cycle', 'ALIGN_MEAN', 'REDUCE_MEAN'],
    ['metricCpuUtilization', () => endpoint.metricCpuUtilization(), 'cpu/utilization', 'ALIGN_MEAN', 'REDUCE_MEAN'],
  ])(
    '%s: filtered to the endpoint, aligned for its kind, per deployed model',
    (_, metricOf, name, aligner, reducer) => {
      // WHEN
      const metric = metricOf();
      // THEN
      expect(metric.filter).toContain(
        `${ENDPOINT_FILTER} AND metric.type = "aiplatform.googleapis.com/prediction/online/${name}"`,
      );
      expect(metric.apiAggregation).toEqual({
        alignmentPeriod: '60s',
        perSeriesAligner: aligner,
        crossSeriesReducer: reducer,
        groupByFields: ['metric.label.deployed_model_id'],
      });
    },
  );

  test('latency is the end-to-end latency, not the model or overhead part', () => {
    // THEN
    expect(endpoint.metricLatency().filter).toMatch(/ AND metric\.labels\.latency_type = "total"$/);
  });

  test("a deployment's metrics are narrowed to its deployed model id", () => {
    // GIVEN
    const deployment = deploymentOn(TerraformStack.of(endpoint), endpoint);
    // WHEN
    const metrics = [deployment.metricReplicas(), deployment.metricLatency(95), deployment.metricGpuDutyCycle()];
    // THEN
    for (const metric of metrics) {
      expect(metric.filter).toContain(ENDPOINT_FILTER);
      expect(metric.filter).toMatch(
        new RegExp(` AND metric\\.labels\\.deployed_model_id = "${deployment.deployedModelId}"$`),
      );
    }
  });

  test('responses can be narrowed to one status class', () => {
    // THEN
    expect(endpoint.metricResponses(5).filter).toMatch(/ AND metric\.labels\.response_code = starts_with\("5"\)$/);
  });
});

describe('EndpointAlarms alarms', () => {
  test('alarmOnLatency: p99 above the threshold for the window, with documentation and auto-close', () => {
    // WHEN
    const synthesized = synthAlarms((a) => a.alarmOnLatency({ thresholdMs: 300, windowMinutes: 10 }), {
      autoCloseMinutes: 120,
    });
    // THEN
    expect(synthesized).toHaveResourceWithProperties(MonitoringAlertPolicy, {
      project: 'acme-ml-dev',
      combiner: 'OR',
      severity: 'WARNING',
      alert_strategy: { auto_close: '7200s' },
    });
    const policy = onlyPolicy(synthesized);
    expect(policy.conditions[0].display_name).toBe('p99 latency > 300 ms for 10 min');
    const condition = policy.conditions[0].condition_threshold;
    expect(condition).toMatchObject({
      comparison: 'COMPARISON_GT',
      threshold_value: 300,
      duration: '600s',
      evaluation_missing_data: 'EVALUATION_MISSING_DATA_INACTIVE',
      aggregations: [{ per_series_aligner: 'ALIGN_DELTA', cross_series_reducer: 'REDUCE_PERCENTILE_99' }],
    });
    expect(condition.filter).toContain('prediction/online/prediction_latencies');
    expect(policy.documentation.mime_type).toBe('text/markdown');
    expect(policy.documentation.content).toMatch(
      /### What it means\n\nThe p99 end-to-end prediction latency .* endpoint 123456789 .* above 300 ms for 10 minutes/,
    );
    expect(policy.documentation.content).toMatch(/### First steps\n\n1\. .*\n2\. /);
    expect(policy.documentation.subject).toBe('[stack/endpoint] p99 prediction latency above 300 ms');
  });

  test('alarmOnErrorRate: 5xx responses over all responses, smoothed over 5 minutes, threshold as a fraction', () => {
    // WHEN
    const policy = onlyPolicy(synthAlarms((a) => a.alarmOnErrorRate({ thresholdPercent: 0.5 })));
    // THEN
    const condition = policy.conditions[0].condition_threshold;
    expect(policy.severity).toBe('ERROR');
    expect(condition.threshold_value).toBe(0.005);
    expect(condition.filter).toMatch(/response_count" AND metric\.labels\.response_code = starts_with\("5"\)$/);
    expect(condition.denominator_filter).toMatch(/response_count"$/);
    for (const agg of [condition.aggregations[0], condition.denominator_aggregations[0]]) {
      expect(agg).toEqual({
        alignment_period: '300s',
        per_series_aligner: 'ALIGN_RATE',
        cross_series_reducer: 'REDUCE_SUM',
        group_by_fields: ['metric.label.deployed_model_id'],
      });
    }
  });

  test("alarmOnSaturation: the endpoint's deployment at its maximum replicas for the window", () => {
    // WHEN
    let deployedModelId = '';
    const policy = onlyPolicy(
      synthAlarms((a) => {
        const deployment = deploymentOn(a.node.scope as Construct, a.endpoint, { maxReplicas: 8 });
        deployedModelId = deployment.deployedModelId;
        a.alarmOnSaturation();
      }),
    );
    // THEN
    const condition = policy.conditions[0].condition_threshold;
    expect(condition.filter).toMatch(
      new RegExp(`prediction/online/replicas" AND metric\\.labels\\.deployed_model_id = "${deployedModelId}"$`),
    );
    expect(condition).toMatchObject({ threshold_value: 7.5, comparison: 'COMPARISON_GT', duration: '900s' });
    expect(condition.aggregations[0].per_series_aligner).toBe('ALIGN_MIN');
    expect(policy.display_name).toBe('stack/endpoint: yolo26n@v3 at its maximum of 8 replicas');
    expect(policy.documentation.content).toContain('raise `replicas.max` of yolo26n@v3');
  });

  test('alarmOnGpuDutyCycle: mean duty cycle (a fraction) above the threshold for 15 minutes by default', () => {
    // WHEN
    const policy = onlyPolicy(synthAlarms((a) => a.alarmOnGpuDutyCycle()));
    // THEN
    expect(policy.conditions[0].condition_threshold).toMatchObject({ threshold_value: 0.95, duration: '900s' });
    expect(policy.conditions[0].condition_threshold.filter).toContain('prediction/online/accelerator/duty_cycle');
  });

  test('alarmOnNoTraffic: replicas running and no response reported, as PromQL (which sees a never-reported metric)', () => {
    // WHEN
    const policy = onlyPolicy(synthAlarms((a) => a.alarmOnNoTraffic()));
    // THEN
    const selector = (name: string) =>
      `aiplatform_googleapis_com:prediction_online_${name}{monitored_resource="aiplatform.googleapis.com/Endpoint",endpoint_id="${ENDPOINT_ID}"}`;
    expect(policy.conditions).toEqual([
      {
        display_name: 'replicas > 0 and no response_count point for 360 min',
        condition_prometheus_query_language: {
          query: `sum(${selector('replicas')}) > 0 unless sum(count_over_time(${selector('response_count')}[15m]))`,
          duration: '21600s',
          disable_metric_validation: true,
        },
      },
    ]);
    expect(policy.display_name).toBe('stack/endpoint: replicas running, no responses for 6 h');
    expect(policy.documentation.content).toContain(
      'the latency and error-rate alerts of this endpoint cannot fire either',
    );
    // a public endpoint's steps do not send anyone looking for the private metric names
    expect(policy.documentation.content).not.toContain('prediction/online/private/');
  });

  test('alarmOnNoTraffic on a Private Service Connect endpoint: first steps name the private metric names to check', () => {
    // WHEN
    const synthesized = Testing.synthScope((scope) => {
      const endpoint = endpointIn(scope, { access: 'private-psc', allowedProjects: ['acme-ml-dev'] });
      new EndpointAlarms(scope, 'alarms', { endpoint }).alarmOnNoTraffic({ windowMinutes: 90 });
    });
    // THEN
    const policy = onlyPolicy(synthesized);
    expect(policy.conditions[0].condition_prometheus_query_language.duration).toBe('5400s');
    expect(policy.documentation.content).toMatch(
      /Private Service Connect.*`prediction\/online\/private\/response_count`/,
    );
  });

  test('promQlMetricName maps a metric type as Cloud Monitoring documents', () => {
    // THEN
    expect(promQlMetricName('aiplatform.googleapis.com/prediction/online/accelerator/duty_cycle')).toBe(
      'aiplatform_googleapis_com:prediction_online_accelerator_duty_cycle',
    );
  });

  test('notifies the given channels and labels every policy', () => {
    // WHEN
    const synthesized = Testing.synthScope((scope) => {
      const notificationChannels = new NotificationChannels(scope, 'channels', {
        project: 'acme-ml-dev',
        emails: ['oncall@acme.example'],
        existingChannels: ['42'],
      });
      new EndpointAlarms(scope, 'alarms', {
        endpoint: endpointIn(scope),
        notificationChannels,
        labels: { app: 'detector' },
      }).alarmOnLatency();
    });
    // THEN
    expect(synthesized).toHaveResourceWithProperties(MonitoringAlertPolicy, {
      notification_channels: [
        expect.stringMatching(
          /^\$\{google_monitoring_notification_channel\.channels_Email-oncall-acme-example-\d{10}_[A-F0-9]+\.name\}$/,
        ),
        'projects/acme-ml-dev/notificationChannels/42',
      ],
      user_labels: { app: 'detector' },
    });
  });

  test('warns when nobody would be notified', () => {
    // GIVEN
    const stack = new TerraformStack(Testing.app(), 'stack');
    // WHEN
    const alarms = new EndpointAlarms(stack, 'alarms', { endpoint: endpointIn(stack) });
    // THEN
    expect(alarms.node.metadata.map((m) => [m.type, m.data])).toEqual([
      [AnnotationMetadataEntryType.WARN, expect.stringMatching(/notify nobody.*alerts\.emails or alerts\.channels/)],
    ]);
  });

  test.each([
    [
      'thresholdMs',
      (a: EndpointAlarms) => a.alarmOnLatency({ thresholdMs: 0 }),
      /thresholdMs: 0 is not allowed; expected a number from 1 to 600000/,
    ],
    [
      'windowMinutes',
      (a: EndpointAlarms) => a.alarmOnLatency({ windowMinutes: 2.5 }),
      /windowMinutes: 2.5 is not allowed; expected a whole number from 1 to 1440/,
    ],
    [
      'thresholdPercent',
      (a: EndpointAlarms) => a.alarmOnErrorRate({ thresholdPercent: 150 }),
      /thresholdPercent: 150 is not allowed; expected a number from 0.01 to 100/,
    ],
    [
      'queue-wait thresholdMs',
      (a: EndpointAlarms) => a.alarmOnQueueWait({ serverMetrics: SERVER_METRIC_TYPES, thresholdMs: 0 }),
      /thresholdMs: 0 is not allowed; expected a number from 1 to 600000/,
    ],
    [
      'no-traffic windowMinutes',
      (a: EndpointAlarms) => a.alarmOnNoTraffic({ windowMinutes: 10 }),
      /windowMinutes: 10 is not allowed; expected a whole number from 30 to 1440/,
    ],
  ])('rejects a bad %s', (_, build, message) => {
    // WHEN / THEN
    expect(() => synthAlarms(build)).toThrow(message);
  });

  test('reports every bad option of one call at once', () => {
    expect(() => synthAlarms((a) => a.alarmOnGpuDutyCycle({ thresholdPercent: 0, windowMinutes: 0 }))).toThrow(
      /thresholdPercent: 0 is not allowed[\s\S]*windowMinutes: 0 is not allowed/,
    );
  });

  test('alarmOnSaturation: one alarm per deployment of the endpoint that can scale, none for a fixed-size one', () => {
    // GIVEN a deployment with room to scale and one of fixed size (always at its maximum)
    const synthesized = synthAlarms((a) => {
      const scope = a.node.scope as Construct;
      deploymentOn(scope, a.endpoint, { id: 'scales', maxReplicas: 3 });
      deploymentOn(scope, a.endpoint, { id: 'fixed', maxReplicas: 1 });
      // WHEN
      a.alarmOnSaturation();
    });
    // THEN only the one that can scale is watched
    const names = Object.values(resourcesOf(synthesized, 'google_monitoring_alert_policy')).map((p) => p.display_name);
    expect(names).toEqual(['stack/endpoint: yolo26n@v3 at its maximum of 3 replicas']);
  });

  test('a deployment that can scale, added after alarmOnSaturation(), fails synthesis naming it', () => {
    // GIVEN alarms created before the deployment
    const stack = new TerraformStack(Testing.app(), 'stack');
    const alarms = new EndpointAlarms(stack, 'alarms', { endpoint: endpointIn(stack) });
    alarms.alarmOnSaturation();
    // WHEN
    deploymentOn(stack, alarms.endpoint, { id: 'late', maxReplicas: 2 });
    // THEN
    expect(() => Testing.fullSynth(stack)).toThrow(
      /deployment stack\/late was added to stack\/endpoint after alarmOnSaturation\(\) was called/,
    );
  });

  test('canSaturate: only a deployment with room to scale', () => {
    // GIVEN
    const stack = new TerraformStack(Testing.app(), 'stack');
    const endpoint = endpointIn(stack);
    // THEN
    expect(EndpointAlarms.canSaturate(deploymentOn(stack, endpoint, { id: 'scales', maxReplicas: 2 }))).toBe(true);
    expect(EndpointAlarms.canSaturate(deploymentOn(stack, endpoint, { id: 'fixed', maxReplicas: 1 }))).toBe(false);
  });

  test('canSaturate: a deployment that scales to zero with at most 1 replica cannot saturate (it is at 1 whenever it is up)', () => {
    // GIVEN
    const stack = new TerraformStack(Testing.app(), 'stack');
    const endpoint = endpointIn(stack, { access: 'dedicated' });
    // WHEN
    const one = deploymentOn(stack, endpoint, { id: 'one', maxReplicas: 1, scaleToZero: true });
    // THEN
    expect(EndpointAlarms.canSaturate(one)).toBe(false);
  });

  test('canSaturate: a deployment that scales to zero and up to 2 replicas can saturate at 2', () => {
    const stack = new TerraformStack(Testing.app(), 'stack');
    const two = deploymentOn(stack, endpointIn(stack, { access: 'dedicated' }), { maxReplicas: 2, scaleToZero: true });
    expect(EndpointAlarms.canSaturate(two)).toBe(true);
  });

  test('alarmOnNoTraffic does not count the replicas of a deployment that scales to zero (it idles on purpose)', () => {
    // GIVEN a deployment that scales to zero
    let id = '';
    const synthesized = Testing.synthScope((scope) => {
      const endpoint = endpointIn(scope, { access: 'dedicated' });
      id = deploymentOn(scope, endpoint, { scaleToZero: true }).deployedModelId;
      // WHEN
      new EndpointAlarms(scope, 'alarms', { endpoint }).alarmOnNoTraffic();
    });
    // THEN its replicas are left out of the "replicas running" side
    const policy = Object.values(resourcesOf(synthesized, 'google_monitoring_alert_policy'))[0];
    expect(policy.conditions[0].condition_prometheus_query_language.query).toMatch(
      new RegExp(
        `^sum\\(aiplatform_googleapis_com:prediction_online_replicas\\{[^}]*,deployed_model_id!~"${id}"\\}\\) > 0 unless `,
      ),
    );
    expect(policy.documentation.content).toContain(`that scale to zero, ${id}, do not count`);
  });

  test('a deployment that scales to zero added after alarmOnNoTraffic() fails synthesis', () => {
    // GIVEN
    const stack = new TerraformStack(Testing.app(), 'stack');
    const alarms = new EndpointAlarms(stack, 'alarms', { endpoint: endpointIn(stack, { access: 'dedicated' }) });
    alarms.alarmOnNoTraffic();
    // WHEN
    deploymentOn(stack, alarms.endpoint, { id: 'late', scaleToZero: true });
    // THEN
    expect(() => Testing.fullSynth(stack)).toThrow(
      /deployment stack\/late scales to zero and was added to stack\/endpoint after alarmOnNoTraffic\(\) was called/,
    );
  });

  test('rejects an auto-close shorter than Cloud Monitoring allows', () => {
    // WHEN / THEN
    expect(() => synthAlarms(() => undefined, { autoCloseMinutes: 5 })).toThrow(
      /autoCloseMinutes: 5 is not allowed; expected a whole number from 30 to 10080/,
    );
  });

  test('alarmOnQueueWait: p99 of the server queue wait over 500 ms for 10 min by default, compared in seconds', () => {
    // WHEN
    const policy = onlyPolicy(synthAlarms((a) => a.alarmOnQueueWait({ serverMetrics: SERVER_METRIC_TYPES })));
    // THEN
    const threshold = policy.conditions[0].condition_threshold;
    expect(policy.display_name).toBe('stack/endpoint: server queue wait p99 above 500 ms');
    expect(threshold).toMatchObject({ threshold_value: 0.5, duration: '600s', comparison: 'COMPARISON_GT' });
    expect(threshold.filter).toBe(
      `resource.type = "generic_task" AND resource.labels.namespace = "${ENDPOINT_ID}" AND metric.type = "workload.googleapis.com/serving/queue_wait"`,
    );
    // AND a replica scaled to zero writes nothing: missing data keeps the alarm inactive
    expect(threshold.evaluation_missing_data).toBe('EVALUATION_MISSING_DATA_INACTIVE');
    expect(policy.documentation.content).toMatch(/429 QUEUE_FULL/);
  });
});
