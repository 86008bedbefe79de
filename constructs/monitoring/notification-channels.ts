import { Construct } from 'constructs';
import { NOTIFICATION_CHANNEL, duplicateEmailIndexes, isEmail } from '../../rules/alert-limits';
import { monitoringNotificationChannel } from '../cdk';
import { PROJECT_ID } from '../../rules/gcp-names';
import { stableDecimalId } from '../private/stable-id';
import { PropsValidator } from '../private/validation';

/** Props of {@link NotificationChannels}. */
export interface NotificationChannelsProps {
  /** Project the channels are created in (the alert policies' project). */
  readonly project: string;
  /**
   * Email addresses; one `email` notification channel is created for each.
   * @default - none
   */
  readonly emails?: readonly string[];
  /**
   * Existing channels (Slack, PagerDuty, SMS... created elsewhere): full names
   * `projects/<project>/notificationChannels/<id>`, or numeric ids of channels in `project`.
   * @default - none
   */
  readonly existingChannels?: readonly string[];
  /**
   * Labels on the created channels (`user_labels`: the provider's `default_labels` do not reach them).
   * @default - none
   */
  readonly labels?: Record<string, string>;
}

/**
 * The notification channels alert policies notify: one email channel per address, plus existing
 * channels by id. Pass it to {@link EndpointAlarms}; {@link channelNames} is what a
 * `google_monitoring_alert_policy` takes.
 */
export class NotificationChannels extends Construct {
  /** The email channels created, in the order of `emails`. */
  readonly emailChannels: readonly monitoringNotificationChannel.MonitoringNotificationChannel[];
  /** Every channel's full name, created ones (as tokens) first, then existing ones. */
  readonly channelNames: readonly string[];

  constructor(scope: Construct, id: string, props: NotificationChannelsProps) {
    super(scope, id);
    const emails = props.emails ?? [];
    const existing = props.existingChannels ?? [];
    const v = new PropsValidator('NotificationChannels').matches(
      'project',
      props.project,
      PROJECT_ID,
      'a GCP project id',
    );
    for (const [i, e] of emails.entries()) v.check(isEmail(e), `emails[${i}]`, e, 'an email address');
    for (const [i, c] of existing.entries()) {
      v.matches(
        `existingChannels[${i}]`,
        c,
        NOTIFICATION_CHANNEL,
        'a channel id or projects/<project>/notificationChannels/<id>',
      );
    }
    for (const { index, first } of duplicateEmailIndexes(emails)) {
      v.fail(
        `emails[${index}]`,
        `${JSON.stringify(emails[index])} is already listed at emails[${first}] (addresses are compared ignoring case)`,
      );
    }
    v.throwIfInvalid(this.node.path);

    this.emailChannels = emails.map(
      (email) =>
        // The id comes from the address, not its position, so reordering the list changes nothing in
        // the plan. The readable part alone is not unique (a.b@x and a-b@x both read "a-b-x"), so a
        // hash of the lowercased address follows it.
        new monitoringNotificationChannel.MonitoringNotificationChannel(
          this,
          `Email-${email.replace(/[^A-Za-z0-9]+/g, '-')}-${stableDecimalId(email.toLowerCase(), 10)}`,
          {
            project: props.project,
            type: 'email',
            displayName: email,
            labels: { email_address: email },
            userLabels: props.labels,
          },
        ),
    );
    this.channelNames = [
      ...this.emailChannels.map((c) => c.name),
      ...existing.map((c) => (c.startsWith('projects/') ? c : `projects/${props.project}/notificationChannels/${c}`)),
    ];
  }
}
