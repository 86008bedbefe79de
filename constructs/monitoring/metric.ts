/**
 * How a metric's points are combined: the Cloud Monitoring API's `Aggregation`, which alert
 * policy conditions and dashboard queries share (same field names in both).
 */
export interface MetricAggregation {
  /** Seconds each aligned point covers, a multiple of 60. */
  readonly alignmentPeriodSeconds: number;
  /** How each time series is turned into one point per period, e.g. `ALIGN_RATE`. */
  readonly perSeriesAligner: string;
  /**
   * How the aligned series are combined, e.g. `REDUCE_SUM`.
   * @default - not combined: one line per time series
   */
  readonly crossSeriesReducer?: string;
  /**
   * Labels kept when series are combined, e.g. `metric.label.deployed_model_id`.
   * @default - none: everything is combined into one series
   */
  readonly groupByFields?: readonly string[];
}

/** Props of {@link MonitoringMetric}. */
export interface MonitoringMetricProps {
  /** Full metric type, e.g. `aiplatform.googleapis.com/prediction/online/replicas`. */
  readonly metricType: string;
  /** Monitored resource type, e.g. `aiplatform.googleapis.com/Endpoint`. */
  readonly resourceType: string;
  /** Resource labels the series must have, e.g. `{ endpoint_id: '123' }`. */
  readonly resourceLabels: Readonly<Record<string, string>>;
  /**
   * Further filter clauses on metric labels, each a complete Monitoring filter expression such as
   * `metric.labels.response_code = starts_with("5")`.
   * @default - none
   */
  readonly metricFilters?: readonly string[];
  /** How points are aligned and combined. */
  readonly aggregation: MetricAggregation;
  /** Short human name, used in alert conditions and chart titles, e.g. `p99 latency`. */
  readonly label: string;
  /** Unit of the aggregated value, e.g. `ms`, `1/s`, `%`, `1`. */
  readonly unit: string;
}

/**
 * A Cloud Monitoring time-series query: which series (the filter) and how they are aggregated.
 * Returned by the `metric*()` methods and consumed by alarms and dashboards, so an alert and its
 * chart always look at the same numbers.
 */
export class MonitoringMetric {
  /** Full metric type. */
  readonly metricType: string;
  /** Monitored resource type. */
  readonly resourceType: string;
  /** Resource labels matched. */
  readonly resourceLabels: Readonly<Record<string, string>>;
  /** Extra filter clauses. */
  readonly metricFilters: readonly string[];
  /** How points are aligned and combined. */
  readonly aggregation: MetricAggregation;
  /** Short human name. */
  readonly label: string;
  /** Unit of the aggregated value. */
  readonly unit: string;

  constructor(props: MonitoringMetricProps) {
    if (props.aggregation.alignmentPeriodSeconds % 60 !== 0 || props.aggregation.alignmentPeriodSeconds <= 0) {
      throw new Error(
        `MonitoringMetric ${props.metricType}: aggregation.alignmentPeriodSeconds: ${props.aggregation.alignmentPeriodSeconds} is not allowed; expected a positive multiple of 60`,
      );
    }
    this.metricType = props.metricType;
    this.resourceType = props.resourceType;
    this.resourceLabels = { ...props.resourceLabels };
    this.metricFilters = [...(props.metricFilters ?? [])];
    this.aggregation = { ...props.aggregation };
    this.label = props.label;
    this.unit = props.unit;
  }

  /** The Monitoring filter selecting the series: resource type and labels, metric type, extra clauses. */
  get filter(): string {
    return [
      `resource.type = "${this.resourceType}"`,
      ...Object.entries(this.resourceLabels).map(([k, v]) => `resource.labels.${k} = "${v}"`),
      `metric.type = "${this.metricType}"`,
      ...this.metricFilters,
    ].join(' AND ');
  }

  /** The aggregation in the API's shape (`alignmentPeriod: "60s"`...), for alert policies and dashboards. */
  get apiAggregation(): {
    alignmentPeriod: string;
    perSeriesAligner: string;
    crossSeriesReducer?: string;
    groupByFields?: string[];
  } {
    const a = this.aggregation;
    return {
      alignmentPeriod: `${a.alignmentPeriodSeconds}s`,
      perSeriesAligner: a.perSeriesAligner,
      ...(a.crossSeriesReducer ? { crossSeriesReducer: a.crossSeriesReducer } : {}),
      ...(a.groupByFields && a.groupByFields.length > 0 ? { groupByFields: [...a.groupByFields] } : {}),
    };
  }

  /**
   * A copy with some properties changed, e.g. a longer alignment period or extra filter clauses
   * (appended to the existing ones).
   */
  with(changes: {
    readonly aggregation?: Partial<MetricAggregation>;
    readonly metricFilters?: readonly string[];
    readonly label?: string;
  }): MonitoringMetric {
    return new MonitoringMetric({
      metricType: this.metricType,
      resourceType: this.resourceType,
      resourceLabels: this.resourceLabels,
      metricFilters: [...this.metricFilters, ...(changes.metricFilters ?? [])],
      aggregation: { ...this.aggregation, ...changes.aggregation },
      label: changes.label ?? this.label,
      unit: this.unit,
    });
  }
}
