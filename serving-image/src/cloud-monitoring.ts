import { MetricExporter } from '@google-cloud/opentelemetry-cloud-monitoring-exporter';
import { type Meter } from '@opentelemetry/api';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { type Logger } from 'pino';
import { type CloudMonitoringConfig } from './config';

/** At most one warning about failing exports per this many milliseconds (the count says how many failed). */
export const EXPORT_WARNING_EVERY_MS = 5 * 60_000;

/** The OpenTelemetry side of the server's metrics, exported to Cloud Monitoring periodically. */
export interface CloudMonitoringExport {
  /** Where {@link ServerMetrics} creates its OpenTelemetry instruments. */
  readonly meter: Meter;
  /** Exports what was recorded since the last export, then stops. Never rejects. */
  shutdown(): Promise<void>;
}

/**
 * Starts exporting to Cloud Monitoring with Google's OpenTelemetry exporter, every
 * `config.intervalMs`. A failing export is logged at WARNING, at most once per
 * {@link EXPORT_WARNING_EVERY_MS} with the number of failures: it never reaches a request.
 */
export function startCloudMonitoringExport(config: CloudMonitoringConfig, logger: Logger): CloudMonitoringExport {
  // The exporter's constructor prints a DeprecationWarning on stderr (Google now points to OTLP and
  // its Telemetry API; see the CHANGELOG): every line the server writes is JSON, so it is logged here.
  const quiet = process.noDeprecation;
  process.noDeprecation = true;
  let exporter: MetricExporter;
  try {
    exporter = new MetricExporter({
      projectId: config.projectId,
      prefix: config.prefix,
      apiEndpoint: config.apiEndpoint,
      // Descriptors are then created by the first write (https://cloud.google.com/monitoring/custom-metrics/creating-metrics#auto-creation):
      // the exporter skips a metric, silently, when creating its descriptor fails, while a failed
      // write fails the export, which is logged. It also spares the API a burst of descriptor calls
      // when many replicas start together.
      disableCreateMetricDescriptors: true,
    });
  } finally {
    process.noDeprecation = quiet;
  }
  logger.info(
    'the Cloud Monitoring exporter (@google-cloud/opentelemetry-cloud-monitoring-exporter) is deprecated by Google in favour of OTLP; it still writes through the Monitoring API',
  );
  const reader = new PeriodicExportingMetricReader({
    exporter: new WarnOnFailure(exporter, new ExportFailures(logger)),
    exportIntervalMillis: config.intervalMs,
    exportTimeoutMillis: Math.min(30_000, config.intervalMs),
  });
  const { labels } = config;
  const provider = new MeterProvider({
    // The `generic_task` monitored resource (metric-types.ts): the exporter maps service.namespace,
    // service.name and service.instance.id to its namespace, job and task_id, location to "global".
    resource: resourceFromAttributes({
      'service.namespace': labels.endpoint_id,
      'service.name': labels.deployed_model_id,
      'service.instance.id': labels.replica,
    }),
    readers: [reader],
  });
  return {
    meter: provider.getMeter('vertex-gpu-serving'),
    shutdown: () =>
      provider.shutdown().catch((err: Error) => logger.warn({ err: err.message }, 'last metrics export failed')),
  };
}

/** Reports each export's outcome to {@link ExportFailures}; the export itself is unchanged. */
class WarnOnFailure implements PushMetricExporter {
  constructor(
    private readonly inner: PushMetricExporter,
    private readonly failures: ExportFailures,
  ) {}

  export(metrics: ResourceMetrics, done: (result: ExportResult) => void): void {
    this.inner.export(metrics, (result) => {
      if (result.code === ExportResultCode.SUCCESS) this.failures.succeeded();
      else this.failures.failed(result.error);
      done(result);
    });
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}

/**
 * Rate-limited logging of failed exports: the first failure at once, then at most one WARNING per
 * `everyMs` counting the failures since the previous one, and one INFO line when exports work again.
 */
export class ExportFailures {
  private unreported = 0;
  private failing = false;
  private lastWarningAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly logger: Logger,
    private readonly everyMs = EXPORT_WARNING_EVERY_MS,
    private readonly now: () => number = Date.now,
  ) {}

  failed(err: Error | undefined): void {
    this.failing = true;
    this.unreported++;
    if (this.now() - this.lastWarningAt < this.everyMs) return;
    this.logger.warn(
      {
        failedExports: this.unreported,
        err: (err?.message ?? 'unknown error').slice(0, 500),
        nextWarningInSeconds: Math.round(this.everyMs / 1000),
      },
      'metrics export to Cloud Monitoring failed; serving is unaffected',
    );
    this.lastWarningAt = this.now();
    this.unreported = 0;
  }

  succeeded(): void {
    if (!this.failing) return;
    this.logger.info({ failedExportsNotLogged: this.unreported }, 'metrics export to Cloud Monitoring works again');
    this.failing = false;
    this.unreported = 0;
    this.lastWarningAt = Number.NEGATIVE_INFINITY;
  }
}
