import { MonitoringAlertPolicy } from '@cdktf/provider-google/lib/monitoring-alert-policy';
import { EndpointAlarms, EndpointAlertsAspect, VertexEndpoint } from '../../constructs';
import { ENDPOINT_ID, endpointIn } from '../monitoring/fixtures';
import { policyErrors, stackWithAspect } from './helpers';

describe('EndpointAlertsAspect', () => {
  test('fires on an endpoint no alert policy watches', () => {
    // GIVEN
    const stack = stackWithAspect(new EndpointAlertsAspect());
    endpointIn(stack);
    // THEN
    expect(policyErrors(stack)).toEqual([
      `[stack/endpoint/Resource] [policy endpoint-alerts] endpoint stack/endpoint/Resource (id ${ENDPOINT_ID}) has no alert policy watching it. ` +
        'Fix: create alarms for it with EndpointAlarms (`alarmOnLatency()`, `alarmOnErrorRate()`...), as ServingStack does for every endpoint',
    ]);
  });

  test('passes an endpoint with EndpointAlarms', () => {
    // GIVEN
    const stack = stackWithAspect(new EndpointAlertsAspect());
    new EndpointAlarms(stack, 'alarms', { endpoint: endpointIn(stack) }).alarmOnErrorRate();
    // THEN
    expect(policyErrors(stack)).toEqual([]);
  });

  test('passes an endpoint watched by a hand-written policy', () => {
    // GIVEN
    const stack = stackWithAspect(new EndpointAlertsAspect());
    endpointIn(stack);
    new MonitoringAlertPolicy(stack, 'handmade', {
      displayName: 'handmade',
      combiner: 'OR',
      conditions: [
        {
          displayName: 'any error',
          conditionThreshold: {
            filter: `resource.type="aiplatform.googleapis.com/Endpoint" AND resource.labels.endpoint_id="${ENDPOINT_ID}" AND metric.type="aiplatform.googleapis.com/prediction/online/error_count"`,
            comparison: 'COMPARISON_GT',
            duration: '60s',
          },
        },
      ],
    });
    // THEN
    expect(policyErrors(stack)).toEqual([]);
  });

  test('alarms on another endpoint do not count, even one whose id starts the same', () => {
    // GIVEN alarms only on endpoint 12345678, a prefix of the checked endpoint's id 123456789
    const stack = stackWithAspect(new EndpointAlertsAspect());
    endpointIn(stack);
    const other = new VertexEndpoint(stack, 'other', {
      project: 'acme-ml-dev',
      region: 'us-central1',
      endpointId: ENDPOINT_ID.slice(0, 8),
    });
    new EndpointAlarms(stack, 'alarms', { endpoint: other }).alarmOnLatency();
    // THEN
    expect(policyErrors(stack)).toEqual([
      expect.stringMatching(/^\[stack\/endpoint\/Resource\] \[policy endpoint-alerts\]/),
    ]);
  });
});
