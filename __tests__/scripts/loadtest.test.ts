import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { main } from '../../scripts/loadtest';
import { solidImage } from '../serving-image/helpers/images';
import { TOKEN, type VertexStandIn, capture, startVertexStandIn } from './helpers/vertex-stand-in';

// Small request counts: these run on a loaded 2-core machine beside other tests.

let dir: string;
let redPng: string;
let redBytes: number;
beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'loadtest-'));
  redPng = path.join(dir, 'red.png');
  const red = await solidImage([255, 0, 0], 64, 64);
  writeFileSync(redPng, red);
  redBytes = red.length;
});

/** Runs `main` against a fresh stand-in, closed afterwards. */
async function loadTest(argv: (url: string) => string[], throttle?: (index: number, ms: number) => boolean) {
  const standIn: VertexStandIn = await startVertexStandIn({ throttle });
  const { io, out, err } = capture();
  try {
    const code = await main(argv(standIn.url), io);
    return { code, out, err, received: standIn.received };
  } finally {
    await standIn.close();
  }
}

describe('npm run loadtest', () => {
  test('prints a table of req/s, p50/p90/p99, status codes and bytes, and writes the same figures as JSON', async () => {
    // GIVEN the stand-in endpoint
    const json = path.join(dir, 'result.json');
    // WHEN 6 requests are sent by 2 clients
    const { code, out, received } = await loadTest((url) => [
      ...['--url', url, '--token', TOKEN, '--image', redPng],
      ...['--requests', '6', '--concurrency', '2', '--json', json],
    ]);
    // THEN every request carried the token and succeeded...
    expect(code).toBe(0);
    expect(received).toHaveLength(6);
    expect(received.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
    // ...the table has the columns and one row with the counts...
    const header = out.findIndex((l) => l.startsWith('| requests |'));
    expect(out[header]).toBe(
      '| requests | seconds | req/s | 2xx/s | p50 ms | p90 ms | p99 ms | max ms | codes | errors | sent | received |',
    );
    expect(out[header + 2]).toMatch(
      /^\| 6 \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| 200: 6 \| 0 \| /,
    );
    // ...and the JSON holds the same figures
    const result = JSON.parse(readFileSync(json, 'utf8'));
    expect(result).toMatchObject({
      concurrency: 2,
      requests: 6,
      statusCodes: { '200': 6 },
      errors: 0,
      bytes: { sent: 6 * redBytes },
      throttled: { answers: 0 },
    });
    expect(result.bytes.received).toBeGreaterThan(0);
    expect(result.latencyMs.p50).toBeGreaterThan(0);
    expect(result.latencyMs.p50).toBeLessThanOrEqual(result.latencyMs.p90);
    expect(result.latencyMs.p90).toBeLessThanOrEqual(result.latencyMs.p99);
    expect(result.requestsPerSecond).toBeGreaterThan(0);
  });

  test("one client waits a 429's Retry-After before its next request", async () => {
    // GIVEN a stand-in that answers the first request 429 with Retry-After: 1
    // WHEN one client sends 3 requests
    const { code, out, received } = await loadTest(
      (url) => ['--url', url, '--token', TOKEN, '--image', redPng, '--requests', '3', '--concurrency', '1'],
      (index) => index === 0,
    );
    // THEN the next request came a second (less timer slack) after the 429, and the table says so
    expect(code).toBe(0);
    expect(received.map((r) => r.status)).toEqual([429, 200, 200]);
    expect(received[1].at - (received[0].answeredAt ?? 0)).toBeGreaterThanOrEqual(900);
    expect(out.find((l) => l.startsWith('| 3 |'))).toContain('| 200: 2, 429: 1 |');
    expect(out).toContainEqual(
      expect.stringMatching(/throttled: 1 answers with 429\/Retry-After, all clients paused 1 s/),
    );
  });

  test('throttled clients all pause instead of spending their requests while the server is full', async () => {
    // GIVEN a stand-in that answers 429 (Retry-After: 1) to every request in the first 1.5 s
    // WHEN 3 clients send 9 requests (a client that ignored Retry-After would spend all 9 at once)
    const { code, received } = await loadTest(
      (url) => ['--url', url, '--token', TOKEN, '--image', redPng, '--requests', '9', '--concurrency', '3'],
      (_index, ms) => ms < 1500,
    );
    // THEN at most two waves of 3 (at 0 s and after the 1 s pause) hit the throttled window, and the
    // rest, sent after it, succeeded
    expect(code).toBe(0);
    const throttled = received.filter((r) => r.status === 429);
    expect(throttled.length).toBeGreaterThanOrEqual(3);
    expect(throttled.length).toBeLessThanOrEqual(6);
    expect(received.filter((r) => r.status === 200).length).toBe(9 - throttled.length);
  });

  test('a run in which no request succeeds exits 1', async () => {
    // GIVEN no token: every answer is 401
    const { code, out } = await loadTest((url) => ['--url', url, '--no-auth', '--requests', '2']);
    // THEN
    expect(code).toBe(1);
    expect(out.find((l) => l.startsWith('| 2 |'))).toContain('| 401: 2 |');
  });

  test('a client whose requests get no answer backs off instead of retrying at once', async () => {
    // GIVEN a port nothing listens on
    const { createServer } = await import('node:net');
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port: p } = s.address() as { port: number };
        s.close(() => resolve(p));
      });
    });
    const json = path.join(dir, 'refused.json');
    // WHEN one client runs for a second
    const { io, out } = capture();
    const code = await main(
      [
        '--url',
        `http://127.0.0.1:${port}/predict`,
        '--no-auth',
        '--duration',
        '1',
        '--concurrency',
        '1',
        '--json',
        json,
      ],
      io,
    );
    // THEN it tried a handful of times (50, 100, 200, 400 ms apart), not hundreds, and says why they failed
    expect(code).toBe(1);
    const result = JSON.parse(readFileSync(json, 'utf8'));
    expect(result.errors).toBeGreaterThanOrEqual(1);
    expect(result.errors).toBeLessThanOrEqual(10);
    expect(result.errorSamples).toEqual(['ECONNREFUSED']);
    expect(out).toContain('errors: ECONNREFUSED');
  });

  test('--duration and --requests together are a usage mistake', async () => {
    // WHEN / THEN
    await expect(
      main(['--url', 'http://127.0.0.1:1/predict', '--duration', '5', '--requests', '5'], capture().io),
    ).rejects.toThrow('give --duration or --requests, not both');
  });
});
