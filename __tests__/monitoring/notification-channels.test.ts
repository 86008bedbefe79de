import { TerraformStack, Testing, Token } from 'cdktf';
import { MonitoringNotificationChannel } from '@cdktf/provider-google/lib/monitoring-notification-channel';
import { NotificationChannels } from '../../constructs';
import { resourcesOf } from './fixtures';

describe('NotificationChannels', () => {
  test('creates one email channel per address, labelled with user_labels', () => {
    // WHEN
    const synthesized = Testing.synthScope(
      (scope) =>
        new NotificationChannels(scope, 'channels', {
          project: 'acme-ml-dev',
          emails: ['a@acme.example', 'b@acme.example'],
          labels: { app: 'detector' },
        }),
    );
    // THEN
    for (const email of ['a@acme.example', 'b@acme.example']) {
      expect(synthesized).toHaveResourceWithProperties(MonitoringNotificationChannel, {
        project: 'acme-ml-dev',
        type: 'email',
        display_name: email,
        labels: { email_address: email },
        user_labels: { app: 'detector' },
      });
    }
    expect(Object.keys(resourcesOf(synthesized, 'google_monitoring_notification_channel'))).toHaveLength(2);
  });

  test('names created channels first, then existing ones, numeric ids expanded to full names', () => {
    // GIVEN
    const stack = new TerraformStack(Testing.app(), 'stack');
    // WHEN
    const channels = new NotificationChannels(stack, 'channels', {
      project: 'acme-ml-dev',
      emails: ['a@acme.example'],
      existingChannels: ['42', 'projects/acme-shared/notificationChannels/7'],
    });
    // THEN
    expect(channels.channelNames).toHaveLength(3);
    expect(Token.isUnresolved(channels.channelNames[0])).toBe(true); // the created channel's name, known after apply
    expect(channels.channelNames.slice(1)).toEqual([
      'projects/acme-ml-dev/notificationChannels/42',
      'projects/acme-shared/notificationChannels/7',
    ]);
  });

  test('rejects a malformed email, a duplicate and a malformed channel id, all at once', () => {
    // WHEN / THEN
    expect(() =>
      Testing.synthScope(
        (scope) =>
          new NotificationChannels(scope, 'channels', {
            project: 'acme-ml-dev',
            emails: ['not-an-email', 'a@acme.example', 'a@acme.example'],
            existingChannels: ['slack'],
          }),
      ),
    ).toThrow(
      /emails\[0\]: "not-an-email" is not allowed[\s\S]*existingChannels\[0\]: "slack" is not allowed[\s\S]*emails\[2\]: "a@acme.example" is already listed at emails\[1\]/,
    );
  });

  test('addresses that read alike get distinct channels (ids are not just the sanitized address)', () => {
    // GIVEN two valid addresses that both sanitize to "a-b-acme-example"
    const emails = ['a.b@acme.example', 'a-b@acme.example'];
    // WHEN
    const synthesized = Testing.synthScope(
      (scope) => new NotificationChannels(scope, 'channels', { project: 'acme-ml-dev', emails }),
    );
    // THEN
    const ids = Object.keys(resourcesOf(synthesized, 'google_monitoring_notification_channel'));
    expect(ids).toHaveLength(2);
    expect(ids.every((id) => /^channels_Email-a-b-acme-example-\d{10}_[A-F0-9]+$/.test(id))).toBe(true);
    for (const email of emails) {
      expect(synthesized).toHaveResourceWithProperties(MonitoringNotificationChannel, {
        labels: { email_address: email },
      });
    }
  });

  test("keeps a channel's id when the list is reordered", () => {
    // WHEN
    const idsOf = (emails: string[]) =>
      Object.keys(
        resourcesOf(
          Testing.synthScope(
            (scope) => new NotificationChannels(scope, 'channels', { project: 'acme-ml-dev', emails }),
          ),
          'google_monitoring_notification_channel',
        ),
      ).sort();
    // THEN
    expect(idsOf(['a@acme.example', 'b@acme.example'])).toEqual(idsOf(['b@acme.example', 'a@acme.example']));
  });

  test('refuses the same address twice in different case', () => {
    // WHEN / THEN
    expect(() =>
      Testing.synthScope(
        (scope) =>
          new NotificationChannels(scope, 'channels', {
            project: 'acme-ml-dev',
            emails: ['OnCall@acme.example', 'oncall@ACME.example'],
          }),
      ),
    ).toThrow(
      /emails\[1\]: "oncall@ACME.example" is already listed at emails\[0\] \(addresses are compared ignoring case\)/,
    );
  });
});
