import { z } from 'zod';
import {
  ALERT_SETTINGS,
  type AlertSettingName,
  NOTIFICATION_CHANNEL,
  duplicateEmailIndexes,
} from '../../rules/alert-limits';
import { matching } from './common';

/** A numeric alert setting with its default and range from the table the constructs use too. */
function setting(name: AlertSettingName, description: string) {
  const s = ALERT_SETTINGS[name];
  const number = s.integer ? z.number().int() : z.number();
  return number.min(s.min).max(s.max).default(s.default).describe(description);
}

/**
 * `alerts:` the Cloud Monitoring alert policies and dashboard of the endpoint. Every endpoint gets
 * them; this section tunes thresholds and windows and says whom to notify.
 */
export const alertsSchema = z.strictObject({
  emails: z
    .array(z.email({ error: (iss) => `${JSON.stringify(iss.input)} is not an email address` }))
    .superRefine((emails, ctx) => {
      for (const { index, first } of duplicateEmailIndexes(emails)) {
        ctx.addIssue({
          code: 'custom',
          path: [index],
          message: `${JSON.stringify(emails[index])} is already listed at emails[${first}] (addresses are compared ignoring case)`,
          input: emails[index],
        });
      }
    })
    .default([])
    .describe(
      'Email addresses every alert notifies (one email notification channel each; each address once, ignoring case).',
    ),
  channels: z
    .array(matching(NOTIFICATION_CHANNEL, 'a notification channel id or projects/<project>/notificationChannels/<id>'))
    .default([])
    .describe(
      'Existing notification channels (Slack, PagerDuty...) notified too: numeric ids in this project or full names.',
    ),
  latencyP99Ms: setting('latencyP99Ms', 'p99 prediction latency threshold, milliseconds.'),
  errorRatePercent: setting('errorRatePercent', 'Server-error (5xx) threshold, percent of responses.'),
  queueWaitP99Ms: setting(
    'queueWaitP99Ms',
    "p99 threshold of the time images wait in the serving image's queue (its own metric, written from inside the replicas), milliseconds.",
  ),
  gpuDutyCyclePercent: setting('gpuDutyCyclePercent', 'GPU duty-cycle threshold, percent (mean over replicas).'),
  latencyWindowMinutes: setting('latencyWindowMinutes', 'Minutes p99 latency must stay above its threshold.'),
  errorRateWindowMinutes: setting('errorRateWindowMinutes', 'Minutes the error rate must stay above its threshold.'),
  saturationWindowMinutes: setting(
    'saturationWindowMinutes',
    'Minutes a deployment must run at `replicas.max` before the saturation alert.',
  ),
  gpuWindowMinutes: setting('gpuWindowMinutes', 'Minutes the GPU duty cycle must stay above its threshold.'),
  queueWaitWindowMinutes: setting(
    'queueWaitWindowMinutes',
    "Minutes the server's p99 queue wait must stay above its threshold.",
  ),
  noTrafficWindowMinutes: setting(
    'noTrafficWindowMinutes',
    'Minutes with replicas running and no response reported before the no-traffic alert (which also catches alerts watching the wrong metric names).',
  ),
  autoCloseMinutes: setting('autoCloseMinutes', 'Minutes without data after which an open incident closes.'),
});

export type AlertsConfig = z.output<typeof alertsSchema>;
