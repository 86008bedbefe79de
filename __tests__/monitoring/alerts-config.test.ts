import * as path from 'node:path';
import { loadStacksConfig, parseStacksConfig } from '../../config/load';
import { ALERT_SETTINGS } from '../../rules/alert-limits';
import { REPO_ROOT } from '../helpers/paths';
import { problemsOf } from '../helpers/config';

const ENV = `
environments:
  dev:
    project: acme-ml-dev
`;

describe('stacks.yaml alerts:', () => {
  test('the example is accepted as it is, unset settings defaulted', () => {
    // WHEN
    const { prod, staging } = loadStacksConfig(path.join(REPO_ROOT, 'stacks.yaml')).environments;
    // THEN
    expect(prod.alerts).toEqual({
      emails: ['ml-oncall@acme.example'],
      channels: [],
      latencyP99Ms: 300,
      errorRatePercent: 0.5,
      queueWaitP99Ms: 500,
      gpuDutyCyclePercent: 95,
      latencyWindowMinutes: 5,
      errorRateWindowMinutes: 5,
      saturationWindowMinutes: 15,
      gpuWindowMinutes: 15,
      queueWaitWindowMinutes: 10,
      noTrafficWindowMinutes: 360,
      autoCloseMinutes: 60,
    });
    expect(staging.alerts).toMatchObject({ latencyP99Ms: 800, errorRatePercent: 2 });
  });

  test('an environment without alerts: gets every default (every endpoint is watched)', () => {
    // WHEN
    const { dev } = parseStacksConfig(ENV).environments;
    // THEN
    expect(dev.alerts).toEqual({
      emails: [],
      channels: [],
      ...Object.fromEntries(Object.entries(ALERT_SETTINGS).map(([k, s]) => [k, s.default])),
    });
  });

  test("alerts in defaults: merge key by key with an environment's own", () => {
    // WHEN
    const { dev } = parseStacksConfig(
      `defaults:\n  alerts: { emails: [a@acme.example], latencyP99Ms: 500 }\n${ENV}    alerts: { latencyP99Ms: 250 }\n`,
    ).environments;
    // THEN
    expect(dev.alerts).toMatchObject({ emails: ['a@acme.example'], latencyP99Ms: 250 });
  });

  test('accepts existing channels by id or full name', () => {
    // GIVEN
    const { dev } = parseStacksConfig(
      `${ENV}    alerts: { channels: ['123', projects/acme-shared/notificationChannels/456] }\n`,
    ).environments;
    expect(dev.alerts.channels).toEqual(['123', 'projects/acme-shared/notificationChannels/456']);
  });

  test('reports every bad setting at once with its YAML path, value and range', () => {
    // WHEN
    const message = problemsOf(
      `${ENV}    alerts:\n      emails: [oncall]\n      channels: [slack-ml]\n      errorRatePercent: 150\n      gpuWindowMinutes: 2.5\n      autoCloseMinutes: 10\n`,
    );
    // THEN
    expect(message).toContain('environments.dev.alerts.emails[0]: "oncall" is not an email address');
    expect(message).toContain('environments.dev.alerts.channels[0]: "slack-ml" is not a notification channel id');
    expect(message).toContain('environments.dev.alerts.errorRatePercent: 150 is above the maximum 100');
    expect(message).toMatch(/environments\.dev\.alerts\.gpuWindowMinutes: expected a whole number, got 2\.5/);
    expect(message).toContain('environments.dev.alerts.autoCloseMinutes: 10 is below the minimum 30');
  });

  test('refuses an address listed twice (ignoring case), naming both YAML paths', () => {
    // WHEN
    const message = problemsOf(`${ENV}    alerts:\n      emails: [a@acme.example, b@acme.example, A@Acme.Example]\n`);
    // THEN
    expect(message).toContain(
      'environments.dev.alerts.emails[2]: "A@Acme.Example" is already listed at emails[0] (addresses are compared ignoring case)',
    );
  });

  test('an unknown key suggests the nearest one', () => {
    // THEN
    expect(problemsOf(`${ENV}    alerts: { latencyP99: 300 }\n`)).toMatch(
      /environments\.dev\.alerts\.latencyP99: unknown key "latencyP99" \(did you mean "latencyP99Ms"\?\)/,
    );
  });
});
