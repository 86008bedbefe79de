import { Construct } from 'constructs';
import { type AlarmSeverity, MonitoringAlarm, type MonitoringAlarmProps } from './alarm';
import { type NotificationChannels } from './notification-channels';
import { type ServerMetricTypes, serverMetrics } from './server-metrics';
import {
  ALERT_SETTINGS,
  type AlertSettingName,
  describeAlertSetting,
  isAllowedAlertValue,
} from '../../rules/alert-limits';
import { Annotations } from '../cdk';
import { PropsValidator } from '../private/validation';
import { type LatencyPercentile, noResponsesWhileRunningQuery } from '../private/vertex-metrics';
import { type VertexDeployment } from '../vertex/deployment';
import { type VertexEndpoint } from '../vertex/endpoint';

/**
 * How far back the no-traffic alarm looks for a response: longer than the up to 6 minutes an
 * Endpoint metric's point can take to become visible after sampling (Cloud Monitoring metrics list,
 * https://cloud.google.com/monitoring/api/metrics_gcp_a_b#gcp-aiplatform).
 */
const NO_TRAFFIC_LOOKBACK_MINUTES = 15;

/** Props of {@link EndpointAlarms}. */
export interface EndpointAlarmsProps {
  /** The endpoint watched. */
  readonly endpoint: VertexEndpoint;
  /**
   * Whom every alarm notifies.
   * @default - nobody: incidents only show in the console (a warning is emitted at synthesis)
   */
  readonly notificationChannels?: NotificationChannels;
  /**
   * Minutes without data after which an open incident closes (30 to 10080).
   * @default 60
   */
  readonly autoCloseMinutes?: number;
  /**
   * Labels on every alert policy (`user_labels`, which the provider's `default_labels` do not reach).
   * @default - none
   */
  readonly labels?: Record<string, string>;
  /**
   * Prefix of every policy's display name.
   * @default - the endpoint's construct path, e.g. `prod/endpoint`
   */
  readonly namePrefix?: string;
}

/** Options shared by the `alarmOn*()` methods. */
export interface AlarmOptions {
  /**
   * Minutes the condition must hold before an incident opens.
   * @default - per alarm: 5 for latency and errors, 15 for saturation and GPU, 360 for no traffic
   */
  readonly windowMinutes?: number;
  /**
   * Severity of the incidents.
   * @default - ERROR for the error rate, WARNING for the others
   */
  readonly severity?: AlarmSeverity;
}

/** Options of {@link EndpointAlarms.alarmOnLatency}. */
export interface LatencyAlarmOptions extends AlarmOptions {
  /**
   * Latency threshold, ms.
   * @default 1000
   */
  readonly thresholdMs?: number;
  /**
   * Percentile compared with the threshold.
   * @default 99
   */
  readonly percentile?: LatencyPercentile;
}

/** Options of {@link EndpointAlarms.alarmOnErrorRate}. */
export interface ErrorRateAlarmOptions extends AlarmOptions {
  /**
   * Share of responses that are server errors (5xx), percent.
   * @default 1
   */
  readonly thresholdPercent?: number;
}

/** Options of {@link EndpointAlarms.alarmOnQueueWait}. */
export interface QueueWaitAlarmOptions extends AlarmOptions {
  /** The metrics the serving image writes (the app passes the image's own list of them). */
  readonly serverMetrics: ServerMetricTypes;
  /**
   * p99 queue-wait threshold, ms.
   * @default 500
   */
  readonly thresholdMs?: number;
}

/** Options of {@link EndpointAlarms.alarmOnGpuDutyCycle}. */
export interface GpuDutyCycleAlarmOptions extends AlarmOptions {
  /**
   * Duty-cycle threshold, percent.
   * @default 95
   */
  readonly thresholdPercent?: number;
}

/**
 * Cloud Monitoring alarms on one {@link VertexEndpoint}, in the style of aws-cdk: `metric*()`
 * methods return the endpoint's metrics (filtered to it, with the right aligner for each kind),
 * `alarmOn*()` methods create an alert policy with a documentation block that says what the
 * alert means and what to do first.
 *
 * ```ts
 * const alarms = new EndpointAlarms(stack, 'alarms', { endpoint, notificationChannels });
 * alarms.alarmOnLatency({ thresholdMs: 300 });
 * alarms.alarmOnErrorRate({ thresholdPercent: 0.5 });
 * ```
 */
export class EndpointAlarms extends Construct {
  /** The endpoint watched. */
  readonly endpoint: VertexEndpoint;
  /** Every alarm created so far, in creation order. */
  readonly alarms: MonitoringAlarm[] = [];
  private readonly props: EndpointAlarmsProps;
  private readonly namePrefix: string;

  constructor(scope: Construct, id: string, props: EndpointAlarmsProps) {
    super(scope, id);
    new PropsValidator('EndpointAlarms')
      .check(
        props.autoCloseMinutes === undefined || isAllowedAlertValue('autoCloseMinutes', props.autoCloseMinutes),
        'autoCloseMinutes',
        props.autoCloseMinutes,
        describeAlertSetting('autoCloseMinutes'),
      )
      .throwIfInvalid(this.node.path);
    this.props = props;
    this.endpoint = props.endpoint;
    this.namePrefix = props.namePrefix ?? props.endpoint.node.path;
    if (!props.notificationChannels || props.notificationChannels.channelNames.length === 0) {
      Annotations.of(this).addWarning(
        `alarms on endpoint ${props.endpoint.node.path} notify nobody: incidents only show in the Cloud Monitoring console. Add alerts.emails or alerts.channels in stacks.yaml (or pass notificationChannels).`,
      );
    }
  }

  /** Alerts when a deployed model's latency percentile stays above `thresholdMs`. */
  alarmOnLatency(options: LatencyAlarmOptions = {}): MonitoringAlarm {
    const { thresholdMs: threshold, windowMinutes: window } = this.settings({
      thresholdMs: ['latencyP99Ms', options.thresholdMs],
      windowMinutes: ['latencyWindowMinutes', options.windowMinutes],
    });
    const percentile = options.percentile ?? 99;
    return this.addAlarm('Latency', {
      displayName: `${this.namePrefix}: p${percentile} latency above ${threshold} ms`,
      metric: this.endpoint.metricLatency(percentile),
      threshold,
      conditionName: `p${percentile} latency > ${threshold} ms for ${window} min`,
      windowMinutes: window,
      severity: options.severity ?? 'WARNING',
      documentation: {
        subject: `[${this.namePrefix}] p${percentile} prediction latency above ${threshold} ms`,
        meaning: `The p${percentile} end-to-end prediction latency of a model deployed to endpoint ${this.describeEndpoint()} has been above ${threshold} ms for ${window} minutes. Callers wait longer or time out.`,
        firstSteps: [
          'Open the endpoint dashboard: compare latency with traffic and replicas. A traffic spike with replicas at their maximum means the deployment is saturated (see the saturation alert); raise `replicas.max`.',
          'If only one deployed model is slow (the condition names its `deployed_model_id`), a new version may be slower: shift traffic back to the previous version.',
          'If GPU duty cycle is low while latency is high, look at the server logs (Logs Explorer, resource type `aiplatform.googleapis.com/Endpoint`) for slow pre-processing or model loading.',
        ],
      },
    });
  }

  /** Alerts when a deployed model's share of 5xx responses stays above `thresholdPercent`. */
  alarmOnErrorRate(options: ErrorRateAlarmOptions = {}): MonitoringAlarm {
    const { thresholdPercent: percent, windowMinutes: window } = this.settings({
      thresholdPercent: ['errorRatePercent', options.thresholdPercent],
      windowMinutes: ['errorRateWindowMinutes', options.windowMinutes],
    });
    // A 5-minute alignment smooths the ratio: with sparse traffic a single failed request in a
    // 1-minute bucket would read as a 100 % error rate.
    const smooth = { aggregation: { alignmentPeriodSeconds: 300 } };
    return this.addAlarm('ErrorRate', {
      displayName: `${this.namePrefix}: 5xx error rate above ${percent} %`,
      metric: this.endpoint.metricResponses(5).with(smooth),
      denominator: this.endpoint.metricResponses().with(smooth),
      threshold: percent / 100,
      conditionName: `5xx share of responses > ${percent} % for ${window} min`,
      windowMinutes: window,
      severity: options.severity ?? 'ERROR',
      documentation: {
        subject: `[${this.namePrefix}] 5xx error rate above ${percent} %`,
        meaning: `More than ${percent} % of the responses of a model deployed to endpoint ${this.describeEndpoint()} have been server errors (HTTP 5xx) for ${window} minutes. Client errors (4xx, e.g. malformed requests) are not counted.`,
        firstSteps: [
          'Open the endpoint dashboard: is one deployed model failing (a new version) or all of them?',
          'A new version failing: shift its traffic to the previous version, then read its container logs (Logs Explorer, resource type `aiplatform.googleapis.com/Endpoint`).',
          'All versions failing with replicas at their maximum: the deployment is overloaded (429/503); raise `replicas.max`.',
        ],
      },
    });
  }

  /**
   * Alerts when a deployment of the endpoint runs at its maximum replica count for the whole
   * window: the autoscaler cannot add capacity, so more traffic means queueing, latency and
   * errors. One alarm per deployment that can scale ({@link canSaturate}); a fixed-size
   * deployment always runs at its maximum, so its alarm would open after every deploy and never
   * close: its overload shows in the latency, error-rate and GPU alarms instead.
   *
   * Call it after the endpoint's deployments are added: synthesis fails, naming the deployment,
   * when one that can scale is added later.
   */
  alarmOnSaturation(options: AlarmOptions = {}): MonitoringAlarm[] {
    const { windowMinutes: window } = this.settings({
      windowMinutes: ['saturationWindowMinutes', options.windowMinutes],
    });
    const watched = this.seenNowAndLater(
      EndpointAlarms.canSaturate,
      (d) =>
        `deployment ${d.node.path} was added to ${this.endpoint.node.path} after alarmOnSaturation() was called, so nothing watches its saturation: call alarmOnSaturation() after adding the deployments`,
    );
    return watched.map((d) => this.saturationAlarm(d, window, options.severity));
  }

  private saturationAlarm(deployment: VertexDeployment, window: number, severity?: AlarmSeverity): MonitoringAlarm {
    const { maxReplicaCount: maxReplicas, displayName } = deployment.spec;
    const deployedModelId = deployment.deployedModelId;
    const replicas = deployment.metricReplicas().with({
      // The smallest count in each minute: a replica briefly starting does not count as saturated.
      aggregation: { perSeriesAligner: 'ALIGN_MIN' },
    });
    return this.addAlarm(`Saturation-${deployedModelId}`, {
      displayName: `${this.namePrefix}: ${displayName} at its maximum of ${maxReplicas} replicas`,
      metric: replicas,
      // Replica counts are whole numbers, so "above max - 0.5" is "at max": the provider documents
      // only COMPARISON_GT and COMPARISON_LT as supported for threshold conditions.
      threshold: maxReplicas - 0.5,
      conditionName: `replicas at the maximum (${maxReplicas}) for ${window} min`,
      windowMinutes: window,
      severity: severity ?? 'WARNING',
      documentation: {
        subject: `[${this.namePrefix}] ${displayName} saturated at ${maxReplicas} replicas`,
        meaning: `Deployment ${displayName} (deployed model ${deployedModelId}) on endpoint ${this.describeEndpoint()} has run at its maximum of ${maxReplicas} replicas for ${window} minutes. The autoscaler cannot add capacity: more traffic will raise latency and errors.`,
        firstSteps: [
          'Open the endpoint dashboard: compare replicas with target replicas and traffic.',
          `If the load is expected, raise \`replicas.max\` of ${displayName} in stacks.yaml (check the project's GPU quota in the region first) and deploy.`,
          'If the load is unexpected, look for a misbehaving caller (traffic by deployed model) before adding capacity.',
        ],
      },
    });
  }

  /**
   * Whether {@link alarmOnSaturation} watches `deployment`: only a deployment that can scale while
   * it runs (`max(minReplicas, 1) < maxReplicas`) has a maximum it can be stuck at. A deployment
   * that scales to zero with `maxReplicas: 1` runs exactly one replica whenever it is up, so it is
   * at its maximum after every wake-up; at zero replicas there is nothing to saturate.
   */
  static canSaturate(deployment: VertexDeployment): boolean {
    return Math.max(deployment.spec.minReplicaCount, 1) < deployment.spec.maxReplicaCount;
  }

  /** Whether `deployment` scales to zero when idle (Vertex's Scale To Zero). */
  static scalesToZero(deployment: VertexDeployment): boolean {
    return deployment.spec.scaleToZeroSpec !== undefined;
  }

  /**
   * Alerts when the p99 time images wait in the serving image's queue, over a deployed model's
   * replicas, stays above `thresholdMs`: the server-side view of saturation, from the metrics the
   * image writes itself. An idle replica records no waits (a zero percentile) and a model scaled
   * to zero writes nothing, which the alarm treats as inactive, so neither fires it.
   */
  alarmOnQueueWait(options: QueueWaitAlarmOptions): MonitoringAlarm {
    const { thresholdMs: threshold, windowMinutes: window } = this.settings({
      thresholdMs: ['queueWaitP99Ms', options.thresholdMs],
      windowMinutes: ['queueWaitWindowMinutes', options.windowMinutes],
    });
    return this.addAlarm('QueueWait', {
      displayName: `${this.namePrefix}: server queue wait p99 above ${threshold} ms`,
      metric: serverMetrics(options.serverMetrics, this.endpoint).queueWait(99),
      // The metric is in seconds.
      threshold: threshold / 1000,
      conditionName: `p99 server queue wait > ${threshold} ms for ${window} min`,
      windowMinutes: window,
      severity: options.severity ?? 'WARNING',
      documentation: {
        subject: `[${this.namePrefix}] server queue wait p99 above ${threshold} ms`,
        meaning: `Images sent to a model deployed to endpoint ${this.describeEndpoint()} have waited more than ${threshold} ms (p99) in the serving image's queue for ${window} minutes: its inference workers cannot keep up with the traffic, and once the queue is full (MAX_QUEUE_SIZE) requests are refused with 429 QUEUE_FULL.`,
        firstSteps: [
          'Open the endpoint dashboard, "Server internals": are images queued on every replica (images in the queue) and are 429 QUEUE_FULL answers rising (requests by outcome)?',
          'If the replicas are at their maximum (the saturation alert), raise `replicas.max`; if not, lower `autoscaling` targets so scaling starts earlier.',
          'If the inference stage time grew (stage time p99) without more traffic, a new model version or a fallback to a slower execution provider (label `execution_provider`) is the cause: compare versions and read the container logs.',
        ],
      },
    });
  }

  /** Alerts when a deployed model's mean GPU duty cycle stays near 100 %. */
  alarmOnGpuDutyCycle(options: GpuDutyCycleAlarmOptions = {}): MonitoringAlarm {
    const { thresholdPercent: percent, windowMinutes: window } = this.settings({
      thresholdPercent: ['gpuDutyCyclePercent', options.thresholdPercent],
      windowMinutes: ['gpuWindowMinutes', options.windowMinutes],
    });
    return this.addAlarm('GpuDutyCycle', {
      displayName: `${this.namePrefix}: GPU duty cycle above ${percent} %`,
      metric: this.endpoint.metricGpuDutyCycle(),
      // The metric is a fraction (unit 10^2.%).
      threshold: percent / 100,
      conditionName: `mean GPU duty cycle > ${percent} % for ${window} min`,
      windowMinutes: window,
      severity: options.severity ?? 'WARNING',
      documentation: {
        subject: `[${this.namePrefix}] GPU duty cycle above ${percent} %`,
        meaning: `The GPUs of a model deployed to endpoint ${this.describeEndpoint()} have been busy more than ${percent} % of the time, averaged over its replicas, for ${window} minutes. Requests queue on the GPU: latency rises before errors do.`,
        firstSteps: [
          'Open the endpoint dashboard: are replicas at their maximum? Then the saturation alert applies: raise `replicas.max`.',
          'If replicas are below their maximum, the autoscaler target (`autoscaling.acceleratorDutyCycle`) may be too high for traffic bursts: lower it so scaling starts earlier.',
          'If traffic did not grow, a new model version may need more GPU time per request: compare versions on the dashboard.',
        ],
      },
    });
  }

  /**
   * Alerts when the endpoint has replicas running but reports no response at all for the window.
   * Either nobody calls it (GPUs paid for nothing), or its metrics arrive under other names than
   * the alarms watch, which leaves every other alarm blind: they treat missing data as "fine".
   * A metric-absence condition cannot catch the second case, as it only fires for a series that
   * once reported (https://cloud.google.com/monitoring/alerts/metric-absence), so this is a
   * PromQL condition: replicas > 0 `unless` any response in the last 15 minutes.
   *
   * Replicas of a deployment that scales to zero ({@link scalesToZero}) are not counted: idle, it
   * stays up for its `minUpMinutes` plus `idleMinutes` (up to 16 hours) before Vertex removes its
   * replicas, which is the behaviour asked for, not a problem; and at zero replicas it costs
   * nothing. Call it after the endpoint's deployments are added: synthesis fails, naming the
   * deployment, when one that scales to zero is added later.
   */
  alarmOnNoTraffic(options: AlarmOptions = {}): MonitoringAlarm {
    const { windowMinutes: window } = this.settings({
      windowMinutes: ['noTrafficWindowMinutes', options.windowMinutes],
    });
    const ignored = this.seenNowAndLater(
      EndpointAlarms.scalesToZero,
      (d) =>
        `deployment ${d.node.path} scales to zero and was added to ${this.endpoint.node.path} after alarmOnNoTraffic() was called, so the no-traffic alarm would fire while it idles: call alarmOnNoTraffic() after adding the deployments`,
    );
    const hours = window % 60 === 0 ? `${window / 60} h` : `${window} min`;
    const psc = this.endpoint.access === 'private-psc';
    return this.addAlarm('NoTraffic', {
      displayName: `${this.namePrefix}: replicas running, no responses for ${hours}`,
      promQl: noResponsesWhileRunningQuery(
        this.endpoint.endpointIdLiteral,
        NO_TRAFFIC_LOOKBACK_MINUTES,
        ignored.map((d) => d.deployedModelId),
      ),
      conditionName: `replicas > 0 and no response_count point for ${window} min`,
      windowMinutes: window,
      severity: options.severity ?? 'WARNING',
      documentation: {
        subject: `[${this.namePrefix}] replicas running, no responses reported for ${hours}`,
        meaning: `Endpoint ${this.describeEndpoint()} has had replicas running for ${hours} without a single prediction response reported to Cloud Monitoring${ignored.length > 0 ? ` (replicas of deployed models that scale to zero, ${ignored.map((d) => d.deployedModelId).join(', ')}, do not count: Vertex removes them when idle)` : ''}. Either nobody calls it, or its requests are reported under other metric names than \`aiplatform.googleapis.com/prediction/online/response_count\`: then the latency and error-rate alerts of this endpoint cannot fire either.`,
        firstSteps: [
          'Ask the callers, or read the container logs (Logs Explorer, resource type `aiplatform.googleapis.com/Endpoint`), whether requests reach the endpoint.',
          ...(psc
            ? [
                'This endpoint uses Private Service Connect. If requests do arrive, open Metrics Explorer and look for `prediction/online/private/response_count` and `private/prediction_latencies` with this endpoint_id: if the traffic is there, this endpoint reports under the private metric names and its alerts watch the wrong ones. Report it to the platform team.',
              ]
            : []),
          'If nobody calls it, undeploy the model or lower `replicas.min`: idle GPU replicas are billed by the hour.',
        ],
      },
    });
  }

  /**
   * The endpoint's deployments that match `kind` now, for an alarm built from them; one that
   * matches and is added later fails synthesis with `tooLate(it)`, since the alarm cannot see it.
   */
  private seenNowAndLater(
    kind: (d: VertexDeployment) => boolean,
    tooLate: (d: VertexDeployment) => string,
  ): VertexDeployment[] {
    const seen = this.endpoint.deployments.filter(kind);
    this.node.addValidation({
      validate: () => this.endpoint.deployments.filter((d) => kind(d) && !seen.includes(d)).map(tooLate),
    });
    return seen;
  }

  private addAlarm(
    id: string,
    props: Omit<MonitoringAlarmProps, 'project' | 'notificationChannels' | 'autoCloseMinutes' | 'labels'>,
  ): MonitoringAlarm {
    const alarm = new MonitoringAlarm(this, id, {
      ...props,
      project: this.endpoint.project,
      notificationChannels: this.props.notificationChannels,
      autoCloseMinutes: this.props.autoCloseMinutes,
      labels: this.props.labels,
    });
    this.alarms.push(alarm);
    return alarm;
  }

  /**
   * The values given to an `alarmOn*()` method, each checked against its stacks.yaml range (all
   * problems reported at once), or its default.
   * @param given option name to the alert setting it is checked as and the value given
   */
  private settings<K extends string>(
    given: Record<K, readonly [AlertSettingName, number | undefined]>,
  ): Record<K, number> {
    const v = new PropsValidator('EndpointAlarms');
    const entries = Object.entries(given) as [K, readonly [AlertSettingName, number | undefined]][];
    for (const [option, [name, value]] of entries) {
      v.check(value === undefined || isAllowedAlertValue(name, value), option, value, describeAlertSetting(name));
    }
    v.throwIfInvalid(this.node.path);
    return Object.fromEntries(
      entries.map(([option, [name, value]]) => [option, value ?? ALERT_SETTINGS[name].default]),
    ) as Record<K, number>;
  }

  private describeEndpoint(): string {
    return `${this.endpoint.endpointIdLiteral} (${this.endpoint.node.path}, project ${this.endpoint.project}, ${this.endpoint.region})`;
  }
}
