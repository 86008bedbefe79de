import { z } from 'zod';

/** `alerts:` Cloud Monitoring alert policies for the endpoint. */
export const alertsSchema = z.strictObject({
  /** Email addresses notified by every alert policy. */
  emails: z.array(z.email({ error: (iss) => `${JSON.stringify(iss.input)} is not an email address` })).default([]),
  /** p99 prediction latency threshold, milliseconds. */
  latencyP99Ms: z.number().positive().max(600_000).optional(),
  /** Error rate threshold, percent of predictions. */
  errorRatePercent: z.number().positive().max(100).optional(),
});

export type AlertsConfig = z.output<typeof alertsSchema>;
