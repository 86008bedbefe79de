import { type IConstruct } from 'constructs';
import { type IAspect, TerraformStack, monitoringAlertPolicy, vertexAiEndpoint } from '../cdk';
import { reportViolation } from './violation';

/**
 * Every Vertex AI endpoint must be watched by at least one alert policy in the same stack.
 *
 * A policy watches an endpoint when one of its conditions selects the endpoint's metrics by id
 * (`resource.labels.endpoint_id = "<id>"` in a filter, or `endpoint_id="<id>"` in a PromQL or MQL
 * query). So policies made with {@link EndpointAlarms} and hand-written ones both count, and a
 * policy on another endpoint does not.
 */
export class EndpointAlertsAspect implements IAspect {
  visit(node: IConstruct): void {
    if (!(node instanceof vertexAiEndpoint.VertexAiEndpoint)) return;
    const stack = TerraformStack.of(node);
    // Compared as written (a literal, or the same token string when built from a token).
    const id = node.nameInput;
    if (id === undefined) return;
    const selectsEndpoint = new RegExp(`endpoint_id\\s*=~?\\s*["']?${escapeRegExp(id)}["']?(?![0-9])`);
    const watched = stack.node
      .findAll()
      .some(
        (c) =>
          c instanceof monitoringAlertPolicy.MonitoringAlertPolicy &&
          queriesOf(c.conditionsInput).some((q) => selectsEndpoint.test(q)),
      );
    if (!watched) {
      reportViolation(
        node,
        'endpoint-alerts',
        `endpoint ${node.node.path} (id ${id}) has no alert policy watching it`,
        'create alarms for it with EndpointAlarms (`alarmOnLatency()`, `alarmOnErrorRate()`...), as ServingStack does for every endpoint',
      );
    }
  }
}

/** Every filter and query string of resolved alert-policy conditions. */
function queriesOf(conditions: unknown): string[] {
  if (!Array.isArray(conditions)) return [];
  return conditions.flatMap((c: Record<string, Record<string, unknown> | undefined>) =>
    [
      c.conditionThreshold?.filter,
      c.conditionThreshold?.denominatorFilter,
      c.conditionAbsent?.filter,
      c.conditionMatchedLog?.filter,
      c.conditionMonitoringQueryLanguage?.query,
      c.conditionPrometheusQueryLanguage?.query,
    ].filter((q): q is string => typeof q === 'string'),
  );
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
