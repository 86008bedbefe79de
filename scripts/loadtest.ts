/**
 * Load test of a deployed endpoint: `--concurrency` clients send images back to back through the
 * endpoint's predict URL for `--duration` seconds or `--requests` requests, with a progress bar on
 * stderr, then print a table (req/s, p50/p90/p99 latency, status codes, bytes) and, with `--json`,
 * write the same figures to a file.
 *
 *   npm run loadtest -- staging --concurrency 8 --duration 60 --image bus.jpg
 *   npm run loadtest -- --url http://localhost:8080/predict --no-auth --requests 200 --json result.json
 *
 * It respects backpressure: a 429 (or 503) answer with `Retry-After` pauses every client until that
 * time has passed, and a client whose request got no answer (refused, timed out) backs off before
 * the next, so it measures the endpoint instead of hammering it. Exit 0 when at least one
 * request succeeded, 1 when none did, 2 for a usage mistake.
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { type Io, parseCommandLine, resolveTarget, runCommand, wholeNumber } from './endpoint-client/cli';
import { type ImageBody, loadImages, requestHeaders, retryAfterSeconds } from './endpoint-client/images';
import { type Target, type TokenSource, UsageError } from './endpoint-client/target';

const USAGE = `npm run loadtest -- <environment> | --url URL [--concurrency N] [--duration S | --requests N] [--image FILE]... [--json FILE]
  <environment>      an environment of stacks.yaml (see npm run smoke -- --help), or --url URL
  --concurrency N    clients sending back to back (default 4)
  --duration S       seconds to run (default 10 when --requests is not given)
  --requests N       requests to send, instead of a duration
  --image FILE       an image to send (repeatable, sent in turn); default: a generated sample
  --json FILE        also write the results as JSON
  --token TOKEN | --no-auth | --address IP   as for npm run smoke
  --timeout S        seconds per request (default 60)`;

/** The figures of a run: the table and `--json` show these. */
export interface LoadTestResult {
  readonly url: string;
  readonly concurrency: number;
  /** Seconds from the first request to the last answer. */
  readonly seconds: number;
  /** Requests answered (any status) or failed without an answer. */
  readonly requests: number;
  readonly requestsPerSecond: number;
  /** 2xx answers per second. */
  readonly successPerSecond: number;
  /** Latency of the 2xx answers, milliseconds (null without any). */
  readonly latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number } | null;
  /** Answers per HTTP status. */
  readonly statusCodes: Record<string, number>;
  /** Requests without an answer (connection refused, timeout...). */
  readonly errors: number;
  /** Up to 5 distinct reasons of those errors. */
  readonly errorSamples: string[];
  /** Request bodies sent and response bodies received. */
  readonly bytes: { sent: number; received: number };
  /** 429/503 answers carrying Retry-After, and the seconds every client paused because of them. */
  readonly throttled: { answers: number; pausedSeconds: number };
}

/** Options of {@link runLoad}. */
export interface LoadOptions {
  readonly concurrency: number;
  /** Stop starting requests after this many milliseconds... */
  readonly durationMs?: number;
  /** ...or after this many requests. */
  readonly requests?: number;
  readonly timeoutMs: number;
  /** Called about 4 times a second with the fraction done and the counts so far. */
  readonly onProgress?: (done: number, counts: { requests: number; ok: number; throttled: number }) => void;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Runs the load and measures it. */
export async function runLoad(
  target: Target,
  images: readonly ImageBody[],
  token: TokenSource,
  options: LoadOptions,
): Promise<LoadTestResult> {
  const start = performance.now();
  const deadline = options.durationMs !== undefined ? start + options.durationMs : Number.POSITIVE_INFINITY;
  const latencies: number[] = [];
  const statusCodes: Record<string, number> = {};
  const errorSamples = new Set<string>();
  let started = 0;
  let answered = 0;
  let errors = 0;
  let sent = 0;
  let received = 0;
  let throttledAnswers = 0;
  let pausedMs = 0;
  /** No client starts a request before this time (performance.now() ms): the Retry-After gate. */
  let resumeAt = 0;

  const more = () => (options.requests !== undefined ? started < options.requests : performance.now() < deadline);
  const progress = () =>
    options.requests !== undefined
      ? answered / options.requests
      : Math.min(1, (performance.now() - start) / (options.durationMs ?? 1));

  const client = async () => {
    /** Requests in a row this client got no answer to: it backs off (50 ms, doubling, at most 1 s). */
    let failures = 0;
    while (more()) {
      if (failures > 0) {
        const backoff = Math.min(1000, 50 * 2 ** (failures - 1), deadline - performance.now());
        await new Promise((r) => setTimeout(r, Math.max(0, backoff)));
        if (!more()) break;
      }
      const wait = Math.min(resumeAt, deadline) - performance.now();
      if (wait > 0) {
        await new Promise((r) => setTimeout(r, wait));
        if (!more()) break;
      }
      const image = images[started % images.length];
      started++;
      const t0 = performance.now();
      try {
        const response = await fetch(target.url, {
          method: 'POST',
          headers: await requestHeaders(image, token),
          body: image.bytes,
          signal: AbortSignal.timeout(options.timeoutMs),
        });
        failures = 0;
        sent += image.bytes.length;
        const body = Buffer.from(await response.arrayBuffer());
        const now = performance.now();
        received += body.length;
        statusCodes[response.status] = (statusCodes[response.status] ?? 0) + 1;
        if (response.ok) latencies.push(now - t0);
        const retryAfter = response.headers.get('retry-after');
        if (response.status === 429 || (response.status === 503 && retryAfter !== null)) {
          // Back off as the server asks (1 s when a 429 does not say): every client waits.
          throttledAnswers++;
          const until = now + retryAfterSeconds(retryAfter, 1, 0, 60) * 1000;
          if (until > resumeAt) {
            pausedMs += until - Math.max(now, resumeAt);
            resumeAt = until;
          }
        }
      } catch (err) {
        if (err instanceof UsageError) throw err;
        errors++;
        failures++;
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        if (errorSamples.size < 5) errorSamples.add(cause?.code ?? cause?.message ?? (err as Error).message);
      }
      answered++;
    }
  };

  const timer = options.onProgress
    ? setInterval(
        () =>
          options.onProgress?.(progress(), {
            requests: answered,
            ok: latencies.length,
            throttled: throttledAnswers,
          }),
        250,
      )
    : undefined;
  try {
    await Promise.all(Array.from({ length: options.concurrency }, client));
  } finally {
    if (timer) clearInterval(timer);
  }
  const seconds = (performance.now() - start) / 1000;
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    url: target.url,
    concurrency: options.concurrency,
    seconds: round(seconds, 2),
    requests: answered,
    requestsPerSecond: round(answered / seconds, 2),
    successPerSecond: round(latencies.length / seconds, 2),
    latencyMs:
      sorted.length === 0
        ? null
        : {
            p50: round(percentile(sorted, 50)),
            p90: round(percentile(sorted, 90)),
            p99: round(percentile(sorted, 99)),
            max: round(sorted[sorted.length - 1]),
            mean: round(sorted.reduce((a, b) => a + b, 0) / sorted.length),
          },
    statusCodes,
    errors,
    errorSamples: [...errorSamples],
    bytes: { sent, received },
    throttled: { answers: throttledAnswers, pausedSeconds: round(pausedMs / 1000, 2) },
  };
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

/** The results as Markdown tables, one line each. */
export function formatTable(r: LoadTestResult): string[] {
  const l = r.latencyMs;
  const ms = (n: number | undefined) => (n === undefined ? '-' : String(n));
  const codes = Object.entries(r.statusCodes)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([code, n]) => `${code}: ${n}`)
    .join(', ');
  return [
    '| requests | seconds | req/s | 2xx/s | p50 ms | p90 ms | p99 ms | max ms | codes | errors | sent | received |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    `| ${r.requests} | ${r.seconds} | ${r.requestsPerSecond} | ${r.successPerSecond} | ${ms(l?.p50)} | ${ms(l?.p90)} | ${ms(l?.p99)} | ${ms(l?.max)} | ${codes || '-'} | ${r.errors} | ${size(r.bytes.sent)} | ${size(r.bytes.received)} |`,
    '',
    `latency of the 2xx answers; concurrency ${r.concurrency}; throttled: ${r.throttled.answers} answers with 429/Retry-After, all clients paused ${r.throttled.pausedSeconds} s in all`,
    ...(r.errorSamples.length > 0 ? [`errors: ${r.errorSamples.join('; ')}`] : []),
  ];
}

/** A progress bar on a terminal, else a line every 5 s (CI logs). */
function progressReporter(io: Io): { update: LoadOptions['onProgress']; done(): void } {
  let lastLine = 0;
  return {
    update(done, c) {
      const text = `${c.requests} requests, ${c.ok} ok, ${c.throttled} throttled`;
      if (io.tty) {
        const width = 30;
        const filled = Math.round(done * width);
        io.err(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.floor(done * 100)}% ${text}  `);
      } else if (performance.now() - lastLine >= 5000) {
        lastLine = performance.now();
        io.err(`${Math.floor(done * 100)}% ${text}\n`);
      }
    },
    done() {
      if (io.tty) io.err('\r\x1b[K');
    },
  };
}

/** The load test; resolves to the exit code. */
export async function main(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {
    concurrency: { type: 'string', default: '4' },
    duration: { type: 'string' },
    requests: { type: 'string' },
    json: { type: 'string' },
    timeout: { type: 'string', default: '60' },
  });
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  const concurrency = wholeNumber('concurrency', values.concurrency) ?? 4;
  const requests = wholeNumber('requests', values.requests);
  const duration = wholeNumber('duration', values.duration);
  if (requests !== undefined && duration !== undefined) {
    throw new UsageError('give --duration or --requests, not both');
  }
  const timeoutMs = (wholeNumber('timeout', values.timeout) ?? 60) * 1000;
  const images = await loadImages(values.image);
  const { target, token } = await resolveTarget(positionals, values);
  await token(); // fail on missing credentials before the run, not in every request
  io.out(`loadtest: ${target.description}`);
  io.out(
    `  POST ${target.url}: ${concurrency} clients, ${requests !== undefined ? `${requests} requests` : `${duration ?? 10} s`}, ${images.length} image${images.length === 1 ? '' : 's'}`,
  );
  const reporter = progressReporter(io);
  const result = await runLoad(target, images, token, {
    concurrency,
    requests,
    durationMs: requests === undefined ? (duration ?? 10) * 1000 : undefined,
    timeoutMs,
    onProgress: reporter.update,
  });
  reporter.done();
  io.out('');
  for (const line of formatTable(result)) io.out(line);
  if (values.json) {
    writeFileSync(values.json, `${JSON.stringify(result, null, 2)}\n`);
    io.out(`results written to ${values.json}`);
  }
  return result.successPerSecond > 0 ? 0 : 1;
}

if (require.main === module) runCommand(main);
