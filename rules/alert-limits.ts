import { z } from 'zod';

/**
 * Defaults and allowed ranges of the endpoint alert settings, shared by the `alerts:` schema of
 * stacks.yaml and the {@link EndpointAlarms} props so both accept exactly the same values.
 */

/** One numeric alert setting. */
export interface AlertSetting {
  /** Used when the setting is not given. */
  readonly default: number;
  /** Smallest allowed value. */
  readonly min: number;
  /** Largest allowed value. */
  readonly max: number;
  /** Whether only whole numbers are allowed. */
  readonly integer: boolean;
}

/**
 * Condition windows: Cloud Monitoring accepts only whole minutes for a threshold's `duration`
 * (see the `duration` field of google_monitoring_alert_policy); a window over a day would page
 * far too late to be useful.
 */
export const MAX_WINDOW_MINUTES = 1440;
const WINDOW: Omit<AlertSetting, 'default'> = { min: 1, max: MAX_WINDOW_MINUTES, integer: true };

/** Every numeric setting of `alerts:`, by its stacks.yaml key. */
export const ALERT_SETTINGS = {
  /** p99 prediction latency above which the latency alert fires, ms. */
  latencyP99Ms: { default: 1000, min: 1, max: 600_000, integer: false },
  /** Share of responses that are server errors (5xx) above which the error alert fires, percent. */
  errorRatePercent: { default: 1, min: 0.01, max: 100, integer: false },
  /**
   * p99 time images wait in the server's queue above which the queue-wait alert fires, ms. Under
   * normal load an image waits for a batch or two (tens of ms); a p99 of half a second means the
   * replicas' workers cannot keep up and the queue grows toward 429s.
   */
  queueWaitP99Ms: { default: 500, min: 1, max: 600_000, integer: false },
  /** GPU duty cycle above which the GPU alert fires, percent. */
  gpuDutyCyclePercent: { default: 95, min: 1, max: 100, integer: false },
  /** How long p99 latency must stay above the threshold, minutes. */
  latencyWindowMinutes: { default: 5, ...WINDOW },
  /** How long the error rate must stay above the threshold, minutes. */
  errorRateWindowMinutes: { default: 5, ...WINDOW },
  /** How long a deployment must run at its maximum replica count, minutes. */
  saturationWindowMinutes: { default: 15, ...WINDOW },
  /** How long the GPU duty cycle must stay above the threshold, minutes. */
  gpuWindowMinutes: { default: 15, ...WINDOW },
  /** How long the server's p99 queue wait must stay above the threshold, minutes. */
  queueWaitWindowMinutes: { default: 10, ...WINDOW },
  /**
   * How long a deployment may run (replicas > 0) without a single response reported before the
   * no-traffic alert: nobody calls it, or its metrics arrive under other names than the alarms
   * watch. At least 30 minutes: points reach Monitoring up to 6 minutes late.
   */
  noTrafficWindowMinutes: { default: 360, min: 30, max: MAX_WINDOW_MINUTES, integer: true },
  /**
   * An open incident whose metric stops reporting (traffic stopped, model undeployed) closes after
   * this long. Cloud Monitoring allows 30 minutes to 7 days.
   */
  autoCloseMinutes: { default: 60, min: 30, max: 10_080, integer: true },
} as const satisfies Record<string, AlertSetting>;

/** The name of a numeric alert setting. */
export type AlertSettingName = keyof typeof ALERT_SETTINGS;

/** Whether `value` is allowed for `name`. */
export function isAllowedAlertValue(name: AlertSettingName, value: number): boolean {
  const s: AlertSetting = ALERT_SETTINGS[name];
  return value >= s.min && value <= s.max && (!s.integer || Number.isInteger(value));
}

/** What `name` accepts, for error messages: `a whole number from 1 to 1440`. */
export function describeAlertSetting(name: AlertSettingName): string {
  const s: AlertSetting = ALERT_SETTINGS[name];
  return `${s.integer ? 'a whole number' : 'a number'} from ${s.min} to ${s.max}`;
}

/**
 * An existing notification channel: its full name `projects/<project>/notificationChannels/<id>`
 * or only the numeric id (then in the stack's own project).
 */
export const NOTIFICATION_CHANNEL = /^(projects\/[a-z][a-z0-9-]{4,28}[a-z0-9]\/notificationChannels\/)?[0-9]+$/;

/** zod's email check, the one the `alerts.emails` schema applies, so the construct accepts the same addresses. */
const EMAIL = z.email();

/** Whether `address` is an email address (Cloud Monitoring then verifies it by writing to it). */
export function isEmail(address: string): boolean {
  return EMAIL.safeParse(address).success;
}

/**
 * Positions in `emails` of addresses already listed earlier, compared case-insensitively (mail
 * domains are case-insensitive and providers treat local parts so too): each would be a second
 * notification channel to the same mailbox. Used by the `alerts.emails` schema and
 * {@link NotificationChannels}.
 */
export function duplicateEmailIndexes(emails: readonly string[]): { index: number; first: number }[] {
  const seen = new Map<string, number>();
  const duplicates: { index: number; first: number }[] = [];
  emails.forEach((email, index) => {
    const key = email.toLowerCase();
    const first = seen.get(key);
    if (first === undefined) seen.set(key, index);
    else duplicates.push({ index, first });
  });
  return duplicates;
}
