import { withFreshSection } from '../../scripts/generated-section';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { alertsSchema } from '../../config/schema/alerts';
import { ALERT_DEFAULTS, renderAlertDefaults } from '../../scripts/alert-defaults';
import { ALERT_SETTINGS, type AlertSettingName } from '../../rules/alert-limits';
import { REPO_ROOT } from '../helpers/paths';

const page = () => readFileSync(path.join(REPO_ROOT, ALERT_DEFAULTS.file), 'utf8');

describe('the alert-defaults table in docs/monitoring.md', () => {
  test('is what ALERT_SETTINGS and the alerts schema say (run `npm run docs` after changing them)', () => {
    // GIVEN the page as committed
    const committed = page();
    // WHEN the table between its markers is rendered afresh
    const fresh = withFreshSection(committed, ALERT_DEFAULTS);
    // THEN nothing changes
    expect(fresh).toBe(committed);
  });

  test('a stale default is caught', () => {
    // GIVEN a page whose latency default was edited by hand
    const committed = page();
    const stale = committed.replace('| `alerts.latencyP99Ms` | `1000` |', '| `alerts.latencyP99Ms` | `500` |');
    // WHEN it is rendered afresh
    const fresh = withFreshSection(stale, ALERT_DEFAULTS);
    // THEN the fresh page differs from the stale one (so the freshness test would fail) and holds the real default
    expect(stale).not.toBe(committed);
    expect(fresh).not.toBe(stale);
    expect(fresh).toContain('| `alerts.latencyP99Ms` | `1000` |');
  });

  test('a page without the markers is refused, naming the file', () => {
    // GIVEN a page without markers
    // WHEN / THEN
    expect(() => withFreshSection('# Monitoring and alerts\n', ALERT_DEFAULTS)).toThrow(
      /docs\/monitoring\.md lacks the markers/,
    );
  });

  test('has one row per setting with its default and range', () => {
    // WHEN the table is rendered
    const table = renderAlertDefaults();
    // THEN every setting of ALERT_SETTINGS is a row with its default, limits and schema description
    for (const name of Object.keys(ALERT_SETTINGS) as AlertSettingName[]) {
      const s = ALERT_SETTINGS[name];
      expect(table).toContain(
        `| \`alerts.${name}\` | \`${s.default}\` | ${s.integer ? 'a whole number' : 'a number'} from ${s.min} to ${s.max} | ${alertsSchema.shape[name].description} |`,
      );
    }
    expect(table.split('\n')).toHaveLength(2 + Object.keys(ALERT_SETTINGS).length);
  });
});
