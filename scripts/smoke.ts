/**
 * Smoke test of a deployed endpoint: sends each image through the endpoint's own predict URL and
 * checks the status, the serving image's response shape and, when asked, the detection count.
 *
 *   npm run smoke -- staging                                 # the built-in sample image: shape only
 *   npm run smoke -- staging --image bus.jpg --min-detections 1
 *   npm run smoke -- prod --address 10.10.0.5 --image bus.jpg  # private-psc, from the consumer VPC
 *   npm run smoke -- --url http://localhost:8080/predict --no-auth --image bus.jpg
 *
 * Exit 0 when every image passed, 1 when one failed (one line per failed image says why), 2 for a
 * usage mistake. Discovery and credentials: scripts/endpoint-client/target.ts, docs/day-two.md.
 */
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { type Io, parseCommandLine, resolveTarget, runCommand, wholeNumber } from './endpoint-client/cli';
import { type ImageBody, loadImages, requestHeaders, retryAfterSeconds } from './endpoint-client/images';
import { type Target, type TokenSource, UsageError, excerpt } from './endpoint-client/target';

const USAGE = `npm run smoke -- <environment> | --url URL [--address IP] [--image FILE]... [--expect-detections N | --min-detections N]
  <environment>         an environment of stacks.yaml: its endpoint's predict URL for its access kind
  --url URL             a predict URL instead (raw image bodies are POSTed to it)
  --address IP|HOST     private-psc: the consumer's forwarding rule (http:// unless a scheme is given)
  --image FILE          an image to send (repeatable); default: a generated sample (shape check only)
  --expect-detections N each image must yield exactly N detections
  --min-detections N    each image must yield at least N detections
  --token TOKEN         bearer token (default: $VERTEX_ACCESS_TOKEN, else Application Default Credentials)
  --no-auth             send no Authorization header
  --retries N           retries of a 429/503 answer, after its Retry-After (default 2)
  --timeout S           seconds per request (default 60)`;

/** The serving image's answer to one raw image (serving-image/README.md#request-and-response). */
const predictionResponse = z.object({
  predictions: z
    .array(
      z.object({
        detections: z.array(
          z.object({
            class: z.string(),
            class_id: z.number().int(),
            confidence: z.number().min(0).max(1),
            bbox: z.object({ xmin: z.number(), ymin: z.number(), xmax: z.number(), ymax: z.number() }),
          }),
        ),
        detection_count: z.number().int(),
      }),
    )
    .length(1, 'one prediction for the one image'),
});

/** What a smoke run expects of each image's detections. */
interface Expectation {
  readonly exact?: number;
  readonly min?: number;
}

/** The verdict on one image: undefined when it passed, else why not. */
function check(status: number, body: string, expect: Expectation): { reason?: string; detections?: number } {
  if (status !== 200) return { reason: `HTTP ${status} (expected 200): ${excerpt(body)}` };
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { reason: `HTTP 200 but the body is not JSON: ${excerpt(body)}` };
  }
  const parsed = predictionResponse.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      reason: `HTTP 200 but not the serving image's response (expected {"predictions":[{"detections":[...],"detection_count":n}]}; ${issue.path.join('.') || 'body'}: ${issue.message}): ${excerpt(body)}`,
    };
  }
  const { detections, detection_count: count } = parsed.data.predictions[0];
  if (count !== detections.length) {
    return { reason: `detection_count ${count} but ${detections.length} detections listed`, detections: count };
  }
  if (expect.exact !== undefined && count !== expect.exact) {
    return { reason: `${count} detections, expected exactly ${expect.exact} (--expect-detections)`, detections: count };
  }
  if (expect.min !== undefined && count < expect.min) {
    return { reason: `${count} detections, expected at least ${expect.min} (--min-detections)`, detections: count };
  }
  return { detections: count };
}

/** Sends one image, waiting out (up to `retries` times) a 429 or 503 that carries Retry-After. */
async function send(
  target: Target,
  image: ImageBody,
  token: TokenSource,
  options: { retries: number; timeoutMs: number; io: Io },
): Promise<{ status: number; body: string; ms: number }> {
  for (let attempt = 0; ; attempt++) {
    const t0 = performance.now();
    const response = await fetch(target.url, {
      method: 'POST',
      headers: await requestHeaders(image, token),
      body: image.bytes,
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    const body = await response.text();
    const ms = performance.now() - t0;
    const retryAfter = response.headers.get('retry-after');
    if ((response.status === 429 || response.status === 503) && retryAfter !== null && attempt < options.retries) {
      const wait = retryAfterSeconds(retryAfter, 1, 0, 30);
      options.io.err(`${image.name}: HTTP ${response.status}, retrying after ${wait} s (Retry-After)\n`);
      await new Promise((r) => setTimeout(r, wait * 1000));
      continue;
    }
    return { status: response.status, body, ms };
  }
}

/** The smoke test; resolves to the exit code. */
export async function main(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {
    'expect-detections': { type: 'string' },
    'min-detections': { type: 'string' },
    retries: { type: 'string', default: '2' },
    timeout: { type: 'string', default: '60' },
  });
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  const expect: Expectation = {
    exact: wholeNumber('expect-detections', values['expect-detections'], 0),
    min: wholeNumber('min-detections', values['min-detections'], 0),
  };
  if (expect.exact !== undefined && expect.min !== undefined) {
    throw new UsageError('give --expect-detections or --min-detections, not both');
  }
  const retries = wholeNumber('retries', values.retries, 0) ?? 2;
  const timeoutMs = (wholeNumber('timeout', values.timeout) ?? 60) * 1000;
  const images = await loadImages(values.image);
  const { target, token } = await resolveTarget(positionals, values);
  io.out(`smoke: ${target.description}`);
  io.out(`  POST ${target.url}`);

  let failed = 0;
  for (const image of images) {
    let verdict: { reason?: string; detections?: number };
    let ms = 0;
    try {
      const answer = await send(target, image, token, { retries, timeoutMs, io });
      ms = answer.ms;
      verdict = check(answer.status, answer.body, expect);
    } catch (err) {
      if (err instanceof UsageError) throw err;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      verdict = {
        reason: `no answer from ${new URL(target.url).host}: ${cause?.code ?? cause?.message ?? (err as Error).message}`,
      };
    }
    if (verdict.reason) {
      failed++;
      io.out(`FAIL ${image.name}: ${verdict.reason}`);
    } else {
      io.out(`ok   ${image.name}: HTTP 200, ${verdict.detections} detections, ${Math.round(ms)} ms`);
    }
  }
  io.out(
    failed === 0
      ? `smoke passed: ${images.length} of ${images.length} images`
      : `smoke FAILED: ${failed} of ${images.length} images failed`,
  );
  return failed === 0 ? 0 : 1;
}

if (require.main === module) runCommand(main);
