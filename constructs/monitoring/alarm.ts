import { Construct } from 'constructs';
import { ALERT_SETTINGS, MAX_WINDOW_MINUTES } from '../../rules/alert-limits';
import { type MonitoringMetric } from './metric';
import { type NotificationChannels } from './notification-channels';
import { monitoringAlertPolicy } from '../cdk';
import { PropsValidator } from '../private/validation';

/** How the metric is compared with the threshold. */
export type AlarmComparison = 'GT' | 'LT';

/** Incident severity shown in notifications and the console. */
export type AlarmSeverity = 'CRITICAL' | 'ERROR' | 'WARNING';

/** The `documentation` of an alert policy: what reaches the on-call engineer with each notification. */
export interface AlarmDocumentation {
  /** Notification subject line (at most 255 characters). */
  readonly subject: string;
  /** What the alert means, in a sentence or two. */
  readonly meaning: string;
  /** First steps to take, in order. */
  readonly firstSteps: readonly string[];
}

/** Props of {@link MonitoringAlarm}. */
export interface MonitoringAlarmProps {
  /** Project the alert policy is created in (the metric's project). */
  readonly project: string;
  /** Name of the policy in the console and in notifications. */
  readonly displayName: string;
  /**
   * The series compared with the threshold (the numerator when `denominator` is given).
   * Give either `metric` and `threshold`, or `promQl`.
   * @default - none: `promQl` is the condition
   */
  readonly metric?: MonitoringMetric;
  /**
   * A PromQL condition instead of a threshold on `metric`: met while the query returns any series,
   * for `windowMinutes`. For what a threshold cannot say, e.g. "replicas running and no responses
   * at all" (a series that never reported is invisible to threshold and absence conditions).
   * Metric names are validated only when data arrives, so a policy can precede its metrics.
   * @default - none: `metric` and `threshold` are the condition
   */
  readonly promQl?: string;
  /**
   * Makes the condition a ratio `metric / denominator`, e.g. errors / responses.
   * @default - no ratio: `metric` itself is compared
   */
  readonly denominator?: MonitoringMetric;
  /**
   * How the value is compared with `threshold`.
   * @default "GT"
   */
  readonly comparison?: AlarmComparison;
  /**
   * The threshold, in the metric's unit (a fraction for ratios). Required with `metric`.
   * @default - none: `promQl` is the condition
   */
  readonly threshold?: number;
  /** Minutes the condition must hold before an incident opens. */
  readonly windowMinutes: number;
  /**
   * Name of the condition, shown in incidents, e.g. `p99 latency > 300 ms for 5 min`.
   * @default - `<metric label> above <threshold> <unit> for <window> min`
   */
  readonly conditionName?: string;
  /** What it means and what to do first, sent with every notification. */
  readonly documentation: AlarmDocumentation;
  /**
   * Severity of the incidents.
   * @default "WARNING"
   */
  readonly severity?: AlarmSeverity;
  /**
   * Whom to notify.
   * @default - nobody: incidents only show in the console
   */
  readonly notificationChannels?: NotificationChannels;
  /**
   * Minutes without data after which an open incident closes (30 to 10080).
   * @default 60
   */
  readonly autoCloseMinutes?: number;
  /**
   * Labels on the policy (`user_labels`: the provider's `default_labels` do not reach alert policies).
   * @default - none
   */
  readonly labels?: Record<string, string>;
}

/**
 * One Cloud Monitoring alert policy with one threshold condition on a {@link MonitoringMetric}.
 *
 * When the metric stops reporting (traffic stopped, deployment removed) the condition counts as
 * not met (`EVALUATION_MISSING_DATA_INACTIVE`) and the incident closes after `autoCloseMinutes`,
 * so a quiet endpoint never keeps a stale incident open.
 */
export class MonitoringAlarm extends Construct {
  /** The underlying Terraform resource. */
  readonly policy: monitoringAlertPolicy.MonitoringAlertPolicy;
  /** The series the condition watches, unless it is a PromQL condition. */
  readonly metric?: MonitoringMetric;
  /** The policy's display name. */
  readonly displayName: string;

  constructor(scope: Construct, id: string, props: MonitoringAlarmProps) {
    super(scope, id);
    const autoClose = props.autoCloseMinutes ?? ALERT_SETTINGS.autoCloseMinutes.default;
    const { min, max } = ALERT_SETTINGS.autoCloseMinutes;
    const v = new PropsValidator('MonitoringAlarm')
      .check(
        props.displayName.length >= 1 && props.displayName.length <= 512,
        'displayName',
        props.displayName,
        '1 to 512 characters',
      )
      .integer('windowMinutes', props.windowMinutes, 0, MAX_WINDOW_MINUTES)
      .integer('autoCloseMinutes', autoClose, min, max);
    if (props.promQl !== undefined) {
      if (props.metric || props.denominator || props.threshold !== undefined) {
        v.fail('promQl', 'is a condition of its own: give either promQl, or metric and threshold, not both');
      }
      v.check(props.promQl.trim().length > 0, 'promQl', props.promQl, 'a PromQL query');
    } else {
      if (!props.metric) v.fail('metric', 'is required unless promQl is given');
      v.check(
        props.threshold !== undefined && Number.isFinite(props.threshold),
        'threshold',
        props.threshold,
        'a finite number',
      );
    }
    v.check(
      props.documentation.subject.length <= 255,
      'documentation.subject',
      props.documentation.subject,
      'at most 255 characters',
    )
      .check(
        props.documentation.firstSteps.length > 0,
        'documentation.firstSteps',
        props.documentation.firstSteps,
        'at least one step',
      )
      .throwIfInvalid(this.node.path);

    this.metric = props.metric;
    this.displayName = props.displayName;
    this.policy = new monitoringAlertPolicy.MonitoringAlertPolicy(this, 'Policy', {
      project: props.project,
      displayName: props.displayName,
      combiner: 'OR',
      severity: props.severity ?? 'WARNING',
      notificationChannels: props.notificationChannels ? [...props.notificationChannels.channelNames] : undefined,
      userLabels: props.labels,
      conditions: [props.metric ? thresholdCondition(props, props.metric) : promQlCondition(props, props.promQl ?? '')],
      alertStrategy: { autoClose: `${autoClose * 60}s` },
      documentation: {
        subject: props.documentation.subject,
        mimeType: 'text/markdown',
        content: renderDocumentation(props.documentation),
      },
    });
  }
}

/** A threshold on `metric` (or on `metric / denominator`). */
function thresholdCondition(
  props: MonitoringAlarmProps,
  metric: MonitoringMetric,
): monitoringAlertPolicy.MonitoringAlertPolicyConditions {
  return {
    displayName:
      props.conditionName ??
      `${metric.label} ${props.comparison === 'LT' ? 'below' : 'above'} ${props.threshold} ${metric.unit} for ${props.windowMinutes} min`,
    conditionThreshold: {
      filter: metric.filter,
      aggregations: [metric.apiAggregation],
      ...(props.denominator
        ? { denominatorFilter: props.denominator.filter, denominatorAggregations: [props.denominator.apiAggregation] }
        : {}),
      comparison: props.comparison === 'LT' ? 'COMPARISON_LT' : 'COMPARISON_GT',
      thresholdValue: props.threshold,
      duration: `${props.windowMinutes * 60}s`,
      trigger: { count: 1 },
      evaluationMissingData: 'EVALUATION_MISSING_DATA_INACTIVE',
    },
  };
}

/** A PromQL condition, met while `query` returns any series for the window. */
function promQlCondition(
  props: MonitoringAlarmProps,
  query: string,
): monitoringAlertPolicy.MonitoringAlertPolicyConditions {
  return {
    displayName: props.conditionName ?? `PromQL query returns series for ${props.windowMinutes} min`,
    conditionPrometheusQueryLanguage: {
      query,
      duration: `${props.windowMinutes * 60}s`,
      // Without it, creating the policy fails while the metrics do not exist yet in the project
      // (before the first deployment): https://registry.terraform.io/providers/hashicorp/google/6.50.0/docs/resources/monitoring_alert_policy#disable_metric_validation
      disableMetricValidation: true,
    },
  };
}

/**
 * Markdown for the notification. Cloud Monitoring expands `${...}` variables in documentation and
 * Terraform would try to interpolate them, so none are used: the text names its endpoint itself.
 */
function renderDocumentation(doc: AlarmDocumentation): string {
  return [
    '### What it means',
    '',
    doc.meaning,
    '',
    '### First steps',
    '',
    ...doc.firstSteps.map((step, i) => `${i + 1}. ${step}`),
  ].join('\n');
}
