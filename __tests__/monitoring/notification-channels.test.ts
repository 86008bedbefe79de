import { TerraformStack, Testing, Token } from 'cdktf';
import { MonitoringNotificationChannel } from '@cdktf/provider-google/lib/monitoring-notification-channel';
import { NotificationChannels } from '../../constructs';
import { resourcesOf } from './fixtures';

describe('NotificationChannels', () => {
  test('creates one email channel per address, labelled with user_labels', () => {
    // WHEN
    const synthesized = Testing.synthScope(
      (scope) => new NotificationChannels(scope, 'channels', { project: 'acme-ml-dev', emails: ['a@acme.example', 'b@acme.example'], labels: { app: 'detector' } }),
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
    ).toThrow(/emails\[0\]: "not-an-email" is not allowed[\s\S]*existingChannels\[0\]: "slack" is not allowed[\s\S]*emails: "a@acme.example" is listed twice/);
  });
});
