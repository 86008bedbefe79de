import { Testing } from 'cdktf';
import { MonitoringAlarm, type MonitoringAlarmProps, MonitoringMetric } from '../../constructs';
import { resourcesOf } from './fixtures';

const METRIC = new MonitoringMetric({
  metricType: 'aiplatform.googleapis.com/prediction/online/prediction_count',
  resourceType: 'aiplatform.googleapis.com/Endpoint',
  resourceLabels: { endpoint_id: '1' },
  aggregation: { alignmentPeriodSeconds: 300, perSeriesAligner: 'ALIGN_RATE', crossSeriesReducer: 'REDUCE_SUM' },
  label: 'predictions',
  unit: '1/s',
});
const PROPS: MonitoringAlarmProps = {
  project: 'acme-ml-dev',
  displayName: 'no traffic',
  metric: METRIC,
  comparison: 'LT',
  threshold: 0.1,
  windowMinutes: 30,
  documentation: { subject: 'no traffic', meaning: 'Nobody calls the endpoint.', firstSteps: ['Check the callers.'] },
};

describe('MonitoringAlarm', () => {
  test('a below-threshold alarm on any metric, its condition named after the metric', () => {
    // WHEN
    const synthesized = Testing.synthScope((scope) => new MonitoringAlarm(scope, 'alarm', PROPS));
    // THEN
    const [policy] = Object.values(resourcesOf(synthesized, 'google_monitoring_alert_policy'));
    expect(policy.conditions).toEqual([
      {
        display_name: 'predictions below 0.1 1/s for 30 min',
        condition_threshold: {
          filter: METRIC.filter,
          aggregations: [
            { alignment_period: '300s', per_series_aligner: 'ALIGN_RATE', cross_series_reducer: 'REDUCE_SUM' },
          ],
          comparison: 'COMPARISON_LT',
          threshold_value: 0.1,
          duration: '1800s',
          trigger: { count: 1 },
          evaluation_missing_data: 'EVALUATION_MISSING_DATA_INACTIVE',
        },
      },
    ]);
    expect(policy.documentation.content).toBe(
      '### What it means\n\nNobody calls the endpoint.\n\n### First steps\n\n1. Check the callers.',
    );
    expect(policy.alert_strategy).toEqual({ auto_close: '3600s' });
    expect(policy.notification_channels).toBeUndefined();
  });

  test('a PromQL alarm: met while the query returns series for the window', () => {
    // GIVEN
    const { metric: _metric, threshold: _threshold, comparison: _comparison, ...rest } = PROPS;
    // WHEN
    const synthesized = Testing.synthScope(
      (scope) => new MonitoringAlarm(scope, 'alarm', { ...rest, promQl: 'up == 0', conditionName: 'down' }),
    );
    // THEN
    const [policy] = Object.values(resourcesOf(synthesized, 'google_monitoring_alert_policy'));
    expect(policy.conditions).toEqual([
      {
        display_name: 'down',
        condition_prometheus_query_language: { query: 'up == 0', duration: '1800s', disable_metric_validation: true },
      },
    ]);
  });

  test('takes either a PromQL query or a metric with a threshold', () => {
    // GIVEN
    const { metric: _metric, threshold: _threshold, ...neither } = PROPS;
    // WHEN / THEN
    expect(() =>
      Testing.synthScope((scope) => new MonitoringAlarm(scope, 'alarm', { ...PROPS, promQl: 'up == 0' })),
    ).toThrow(/promQl: is a condition of its own: give either promQl, or metric and threshold, not both/);
    expect(() => Testing.synthScope((scope) => new MonitoringAlarm(scope, 'alarm', neither))).toThrow(
      /metric: is required unless promQl is given[\s\S]*threshold: nothing is not allowed; expected a finite number/,
    );
  });

  test('rejects every bad prop at once', () => {
    // WHEN / THEN
    expect(() =>
      Testing.synthScope(
        (scope) =>
          new MonitoringAlarm(scope, 'alarm', {
            ...PROPS,
            displayName: '',
            windowMinutes: 1441,
            autoCloseMinutes: 20,
            documentation: { ...PROPS.documentation, firstSteps: [] },
          }),
      ),
    ).toThrow(
      /displayName: "" is not allowed[\s\S]*windowMinutes: 1441 is not allowed; expected an integer from 0 to 1440[\s\S]*autoCloseMinutes: 20 is not allowed[\s\S]*documentation\.firstSteps/,
    );
  });
});
