import { ExportFailures } from '../../serving-image/src/cloud-monitoring';
import { createLogger } from '../../serving-image/src/logger';

/** A logger whose JSON lines land in `lines`, and a clock the test moves. */
function setup() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger('info', { write: (l: string) => lines.push(JSON.parse(l) as Record<string, unknown>) });
  const clock = { now: 0 };
  return { lines, clock, failures: new ExportFailures(logger, 300_000, () => clock.now) };
}

describe('ExportFailures (the rate-limited warning about failing Cloud Monitoring exports)', () => {
  test('the first failure is a WARNING at once; the next ones within 5 minutes are only counted', () => {
    // GIVEN exports failing every minute for 4 minutes
    const { lines, clock, failures } = setup();
    for (let minute = 0; minute < 5; minute++) {
      clock.now = minute * 60_000;
      failures.failed(new Error('403 denied'));
    }
    // THEN one WARNING line, for the first
    expect(lines).toEqual([expect.objectContaining({ severity: 'WARNING', failedExports: 1, err: '403 denied' })]);
  });

  test('after 5 minutes the next failure is a WARNING counting every failure since the last one', () => {
    // GIVEN a warning at minute 0, then failures every minute up to minute 5
    const { lines, clock, failures } = setup();
    for (let minute = 0; minute <= 5; minute++) {
      clock.now = minute * 60_000;
      failures.failed(new Error('503 unavailable'));
    }
    // THEN the second warning counts minutes 1 to 5
    expect(lines.map((l) => l.failedExports)).toEqual([1, 5]);
  });

  test('an export that works again after failures is one INFO line with the failures not yet logged', () => {
    // GIVEN a logged failure, then two more within the window
    const { lines, clock, failures } = setup();
    failures.failed(new Error('x'));
    clock.now = 60_000;
    failures.failed(new Error('x'));
    failures.failed(new Error('x'));
    // WHEN exports succeed twice
    failures.succeeded();
    failures.succeeded();
    // THEN one INFO line counts the two unlogged failures, and the next failure warns at once
    expect(lines.slice(1)).toEqual([
      expect.objectContaining({
        severity: 'INFO',
        message: 'metrics export to Cloud Monitoring works again',
        failedExportsNotLogged: 2,
      }),
    ]);
    failures.failed(new Error('y'));
    expect(lines.at(-1)).toMatchObject({ severity: 'WARNING', failedExports: 1, err: 'y' });
  });
});
