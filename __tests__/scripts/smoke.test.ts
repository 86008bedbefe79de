import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { main } from '../../scripts/smoke';
import { REPO_ROOT } from '../helpers/paths';
import { solidImage } from '../serving-image/helpers/images';
import { RAW_PREDICT_PATH, TOKEN, type VertexStandIn, capture, startVertexStandIn } from './helpers/vertex-stand-in';

// The stand-in is the project's serving app on the tiny test model behind a Vertex-like front that
// checks the bearer token. The tiny model finds exactly 2 "red" boxes in a solid red image.

let standIn: VertexStandIn;
let redPng: string;
beforeAll(async () => {
  standIn = await startVertexStandIn();
  redPng = path.join(mkdtempSync(path.join(tmpdir(), 'smoke-')), 'red.png');
  writeFileSync(redPng, await solidImage([255, 0, 0], 64, 64));
});
afterAll(() => standIn.close());
beforeEach(() => standIn.received.splice(0));

describe('npm run smoke', () => {
  test('passes, exit 0, when every image gets the serving response with the expected detection count', async () => {
    // GIVEN the stand-in endpoint and a red image the tiny model finds 2 boxes in
    const { io, out } = capture();
    // WHEN
    const code = await main(
      ['--url', standIn.url, '--token', TOKEN, '--image', redPng, '--expect-detections', '2'],
      io,
    );
    // THEN
    expect(code).toBe(0);
    expect(out).toContain('smoke passed: 1 of 1 images');
    expect(out.some((l) => /^ok {3}red\.png: HTTP 200, 2 detections, \d+ ms$/.test(l))).toBe(true);
  });

  test('sends the token as a bearer Authorization header to the rawPredict path, the image as a raw body', async () => {
    // GIVEN a token passed with --token
    const { io } = capture();
    // WHEN
    await main(['--url', standIn.url, '--token', TOKEN, '--image', redPng], io);
    // THEN the stand-in saw the header, Vertex's rawPredict path and the image's own Content-Type
    expect(standIn.received).toEqual([
      expect.objectContaining({ path: RAW_PREDICT_PATH, authorization: `Bearer ${TOKEN}`, contentType: 'image/png' }),
    ]);
  });

  test('without --image, sends the generated sample and checks the response shape only', async () => {
    // WHEN no --image is given
    const { io, out } = capture();
    const code = await main(['--url', standIn.url, '--token', TOKEN], io);
    // THEN the generated JPEG is sent and accepted whatever it detects
    expect(code).toBe(0);
    expect(standIn.received.map((r) => r.contentType)).toEqual(['image/jpeg']);
    expect(out.some((l) => /^ok {3}sample\.jpg: HTTP 200, \d+ detections/.test(l))).toBe(true);
  });

  test('a refused request fails the run, exit 1, with the status, a body excerpt and what was expected', async () => {
    // GIVEN no Authorization header: the stand-in answers 401 as Vertex does
    const { io, out } = capture();
    // WHEN
    const code = await main(['--url', standIn.url, '--no-auth', '--image', redPng], io);
    // THEN
    expect(code).toBe(1);
    expect(standIn.received[0].authorization).toBeUndefined();
    expect(out).toContain(
      'FAIL red.png: HTTP 401 (expected 200): {"error":{"code":401,"message":"Request is missing required authentication credential.","status":"UNAUTHENTICATED"}}',
    );
    expect(out).toContain('smoke FAILED: 1 of 1 images failed');
  });

  test('a wrong detection count fails the image, naming the count and the expectation', async () => {
    // WHEN the user expects more boxes than the model finds
    const { io, out } = capture();
    const code = await main(['--url', standIn.url, '--token', TOKEN, '--image', redPng, '--min-detections', '3'], io);
    // THEN
    expect(code).toBe(1);
    expect(out).toContain('FAIL red.png: 2 detections, expected at least 3 (--min-detections)');
  });

  test('an answer that is not the serving response fails, naming the expected shape', async () => {
    // GIVEN a server that answers 200 with some other JSON (a health answer)
    const { createServer } = await import('node:http');
    const other = createServer((_req, res) => res.writeHead(200).end('{"status":"ready"}'));
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    const { io, out } = capture();
    try {
      // WHEN
      const port = (other.address() as { port: number }).port;
      const code = await main(['--url', `http://127.0.0.1:${port}/predict`, '--no-auth', '--image', redPng], io);
      // THEN
      expect(code).toBe(1);
      expect(out.find((l) => l.startsWith('FAIL'))).toMatch(
        /^FAIL red\.png: HTTP 200 but not the serving image's response \(expected \{"predictions".*predictions: .*\): \{"status":"ready"\}$/,
      );
    } finally {
      other.close();
    }
  });

  test("waits out a 429's Retry-After once, then passes", async () => {
    // GIVEN a stand-in that answers the first request 429 with Retry-After: 1
    const throttled = await startVertexStandIn({ throttle: (index) => index === 0 });
    const { io, out, err } = capture();
    try {
      // WHEN
      const code = await main(['--url', throttled.url, '--token', TOKEN, '--image', redPng], io);
      // THEN it retried after (at least about) the second the server asked for, and passed
      expect(code).toBe(0);
      expect(throttled.received.map((r) => r.status)).toEqual([429, 200]);
      const [first, second] = throttled.received;
      expect(second.at - (first.answeredAt ?? 0)).toBeGreaterThanOrEqual(900);
      expect(err.join('')).toContain('red.png: HTTP 429, retrying after 1 s (Retry-After)');
      expect(out).toContain('smoke passed: 1 of 1 images');
    } finally {
      await throttled.close();
    }
  });

  test('as a command, a failing run exits 1 and prints one line per failed image', async () => {
    // GIVEN the script run as `npm run smoke` runs it, against a path the stand-in does not serve
    const run = promisify(execFile);
    // WHEN
    const result = await run(
      process.execPath,
      [
        require.resolve('ts-node/dist/bin'),
        '--swc',
        'scripts/smoke.ts',
        '--url',
        `${standIn.origin}/v1/projects/p/locations/r/endpoints/1:rawPredict`,
        '--token',
        TOKEN,
        '--image',
        redPng,
      ],
      { cwd: REPO_ROOT, timeout: 60_000 },
    ).then(
      () => ({ code: 0, stdout: '' }),
      (e: { code: number; stdout: string }) => e,
    );
    // THEN
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^FAIL red\.png: HTTP 404 \(expected 200\): \{"error":\{"code":404/m);
  });

  test('as a command, a usage mistake exits 2 with one message and no stack trace', async () => {
    // WHEN both an environment and --url are given
    const run = promisify(execFile);
    const result = await run(
      process.execPath,
      [require.resolve('ts-node/dist/bin'), '--swc', 'scripts/smoke.ts', 'staging', '--url', standIn.url],
      { cwd: REPO_ROOT, timeout: 60_000 },
    ).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    // THEN
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('usage: give either an environment or --url, not both\n');
  });
});
