import { MonitoringMetric } from '../../constructs';

const BASE = {
  metricType: 'aiplatform.googleapis.com/prediction/online/replicas',
  resourceType: 'aiplatform.googleapis.com/Endpoint',
  resourceLabels: { endpoint_id: '1234567890' },
  aggregation: {
    alignmentPeriodSeconds: 60,
    perSeriesAligner: 'ALIGN_MEAN',
    crossSeriesReducer: 'REDUCE_SUM',
    groupByFields: ['metric.label.deployed_model_id'],
  },
  label: 'replicas',
  unit: '1',
};

describe('MonitoringMetric', () => {
  test('filters on resource type, resource labels, metric type and extra clauses', () => {
    // WHEN
    const metric = new MonitoringMetric({ ...BASE, metricFilters: ['metric.labels.spot = "false"'] });
    // THEN
    expect(metric.filter).toBe(
      'resource.type = "aiplatform.googleapis.com/Endpoint" AND resource.labels.endpoint_id = "1234567890" AND ' +
        'metric.type = "aiplatform.googleapis.com/prediction/online/replicas" AND metric.labels.spot = "false"',
    );
  });

  test('renders the aggregation in the API shape, omitting what is not set', () => {
    // GIVEN
    const grouped = new MonitoringMetric(BASE);
    const plain = new MonitoringMetric({
      ...BASE,
      aggregation: { alignmentPeriodSeconds: 300, perSeriesAligner: 'ALIGN_RATE' },
    });
    // THEN
    expect(grouped.apiAggregation).toEqual({
      alignmentPeriod: '60s',
      perSeriesAligner: 'ALIGN_MEAN',
      crossSeriesReducer: 'REDUCE_SUM',
      groupByFields: ['metric.label.deployed_model_id'],
    });
    expect(plain.apiAggregation).toEqual({ alignmentPeriod: '300s', perSeriesAligner: 'ALIGN_RATE' });
  });

  test('with() returns a changed copy and leaves the original alone', () => {
    // GIVEN
    const metric = new MonitoringMetric(BASE);
    // WHEN
    const changed = metric.with({
      aggregation: { perSeriesAligner: 'ALIGN_MIN' },
      metricFilters: ['metric.labels.deployed_model_id = "1"'],
    });
    // THEN
    expect(changed.aggregation).toMatchObject({ perSeriesAligner: 'ALIGN_MIN', crossSeriesReducer: 'REDUCE_SUM' });
    expect(changed.filter).toContain('metric.labels.deployed_model_id = "1"');
    expect(metric.aggregation.perSeriesAligner).toBe('ALIGN_MEAN');
    expect(metric.filter).not.toContain('deployed_model_id = "1"');
  });

  test('rejects an alignment period that is not a whole number of minutes', () => {
    // WHEN / THEN
    expect(
      () => new MonitoringMetric({ ...BASE, aggregation: { ...BASE.aggregation, alignmentPeriodSeconds: 90 } }),
    ).toThrow(/alignmentPeriodSeconds: 90 is not allowed; expected a positive multiple of 60/);
  });
});
