/**
 * A small client for the Vertex AI REST API subset the deployer uses, with retries of transient
 * errors and waiting on long-running operations. REST reference:
 * https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.endpoints
 * Requests go to v1 unless a caller names v1beta1, which only what needs it does (a deployment
 * that scales to zero, rules/vertex.ts SCALE_TO_ZERO_API_VERSION).
 */

import { type ApiVersion } from '../contract/manifest';

/** An error answer from the API. */
export class VertexApiError extends Error {
  constructor(
    /** HTTP status. */
    readonly status: number,
    /** `error.status` of the answer, e.g. `FAILED_PRECONDITION`. */
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'VertexApiError';
  }
}

/** A long-running operation that finished with an error, or did not finish in time. */
export class OperationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OperationError';
  }
}

/** Options of {@link VertexClient}. */
export interface VertexClientOptions {
  /**
   * Base URL, e.g. `https://us-central1-aiplatform.googleapis.com`; a trailing `/v1/` (the form of
   * the google provider's `vertex_ai_custom_endpoint`) is accepted and dropped.
   */
  readonly baseUrl: string;
  /**
   * Returns the auth headers of a request to `url`: `authorization`, plus `x-goog-user-project`
   * when the credentials name a quota project.
   */
  readonly headers: (url: string) => Promise<Record<string, string>>;
  /** Progress lines for a person. */
  readonly log: (line: string) => void;
  /** Retries of a 429/5xx/network failure before giving up. */
  readonly maxRetries: number;
  /** First backoff, milliseconds; doubles each retry. */
  readonly backoffBaseMs: number;
  /** Backoff cap, milliseconds. */
  readonly backoffMaxMs: number;
  /** Interval between polls of a long-running operation, milliseconds. */
  readonly pollIntervalMs: number;
  /**
   * After an operation timed out and was cancelled, how long to wait for it to stop, milliseconds.
   * @default 600000
   */
  readonly cancelGraceMs?: number;
  /** Random source in [0, 1) for jitter (tests pin it). */
  readonly random?: () => number;
}

/** A `google.longrunning.Operation`. */
export interface Operation {
  readonly name: string;
  readonly done?: boolean;
  readonly error?: { readonly code?: number; readonly message?: string };
  readonly response?: Record<string, unknown>;
}

/** Statuses worth retrying: rate limiting and server-side failures that may pass. */
const RETRYABLE = new Set([429, 500, 502, 503, 504]);

/** Vertex REST calls with bounded exponential backoff and full jitter on 429/5xx. */
export class VertexClient {
  private readonly random: () => number;

  constructor(private readonly options: VertexClientOptions) {
    this.random = options.random ?? Math.random;
  }

  /** GET `/<version>/<path>` (v1 by default); undefined on 404. */
  async get<T>(path: string, version: ApiVersion = 'v1'): Promise<T | undefined> {
    try {
      return await this.request<T>('GET', path, undefined, undefined, version);
    } catch (err) {
      if (err instanceof VertexApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  /**
   * POST `/<version>/<path>` (v1 by default) with a JSON body. A POST is not idempotent: when an
   * answer is lost (5xx, dropped connection) the first request may still have taken effect, so
   * `beforeRetry` is asked before each retry whether it did; a value it returns is the result, and
   * nothing is sent again.
   */
  post<T>(
    path: string,
    body: unknown,
    beforeRetry?: () => Promise<T | undefined>,
    version: ApiVersion = 'v1',
  ): Promise<T> {
    return this.request<T>('POST', path, body, beforeRetry, version);
  }

  /** PATCH `/v1/<path>` with a JSON body. */
  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, body);
  }

  /**
   * Polls an operation until it is done, printing what it waits for with the elapsed time.
   * @param what a description such as `deploying yolo26n@v4 as 1234567890`
   * @param timeoutMs give up after this long
   * @param version the API version the operation was started with (it is polled and cancelled with the same)
   * @returns the operation's `response`
   * @throws OperationError with the operation's own error message, or on timeout (after cancelling the operation and waiting up to `cancelGraceMs` for it to stop)
   */
  async wait(
    op: Operation,
    what: string,
    timeoutMs: number,
    version: ApiVersion = 'v1',
  ): Promise<Record<string, unknown>> {
    const started = Date.now();
    let current = op;
    const done =
      current.done === true ||
      (await this.pollUntil(what, timeoutMs, async () => {
        if (!current.done)
          current = (await this.request<Operation>('GET', current.name, undefined, undefined, version)) ?? current;
        return current.done === true;
      }));
    if (!done) {
      // A timed-out operation keeps running on Vertex (a deployment would finish later and hold its
      // GPUs), and undeploying a model that is still deploying fails: cancel it and let it stop first
      // (https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.operations/cancel).
      const elapsed = formatDuration(Date.now() - started);
      this.options.log(`  ${what}: not done after ${elapsed}; cancelling operation ${op.name}`);
      const cancelled = await this.request('POST', `${op.name}:cancel`, {}, undefined, version)
        .then(() =>
          this.pollUntil(`cancel of ${what}`, this.options.cancelGraceMs ?? 600_000, async () => {
            current = (await this.request<Operation>('GET', current.name, undefined, undefined, version)) ?? current;
            return current.done === true;
          }),
        )
        .catch((err: Error) => {
          this.options.log(`  could not cancel operation ${op.name}: ${err.message}`);
          return false;
        });
      throw new OperationError(
        `${what}: still not done after ${elapsed}; operation ${op.name} ${cancelled ? 'was cancelled' : 'could not be cancelled and may still be running'}`,
      );
    }
    if (current.error) {
      throw new OperationError(`${what} failed: ${current.error.message ?? `error code ${current.error.code}`}`);
    }
    this.options.log(`  done: ${what} (${formatDuration(Date.now() - started)})`);
    return current.response ?? {};
  }

  /**
   * Calls `check` every poll interval until it returns true or `timeoutMs` passed, printing what it
   * waits for with the elapsed time (one line every 30 s at most, so a 20-minute GPU deployment
   * stays readable).
   * @returns whether `check` returned true in time
   */
  async pollUntil(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<boolean> {
    const started = Date.now();
    let lastReport = 0;
    for (let first = true; ; first = false) {
      if (!first && (await check())) return true;
      const elapsed = Date.now() - started;
      if (elapsed > timeoutMs) return false;
      if (lastReport === 0 || Date.now() - lastReport >= 30_000) {
        this.options.log(`  waiting: ${what} (${formatDuration(elapsed)} so far)`);
        lastReport = Date.now();
      }
      await sleep(this.options.pollIntervalMs);
    }
  }

  private async request<T>(
    method: string,
    path: string,
    body?: unknown,
    beforeRetry?: () => Promise<T | undefined>,
    version: ApiVersion = 'v1',
  ): Promise<T> {
    const url = `${baseUrlOf(this.options.baseUrl)}/${version}/${path.replace(/^\/+/, '')}`;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0 && beforeRetry) {
        const already = await beforeRetry();
        if (already !== undefined) return already;
      }
      let status: number;
      let text: string;
      // Outside the try: missing credentials are not a network blip worth retrying.
      const auth = await this.options.headers(url);
      try {
        const res = await fetch(url, {
          method,
          headers: {
            ...auth,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        status = res.status;
        text = await res.text();
      } catch (err) {
        // Connection reset or refused: as transient as a 503.
        status = 0;
        text = (err as Error).message;
      }
      if (status >= 200 && status < 300) {
        return (text ? JSON.parse(text) : {}) as T;
      }
      const retryable = status === 0 || RETRYABLE.has(status);
      if (!retryable || attempt >= this.options.maxRetries) {
        throw apiError(method, version === 'v1' ? path : `${version}/${path}`, status, text, attempt);
      }
      const cap = Math.min(this.options.backoffMaxMs, this.options.backoffBaseMs * 2 ** attempt);
      const delay = Math.round(cap * this.random());
      this.options.log(
        `  ${method} ${version === 'v1' ? '' : `${version}/`}${path}: ${status === 0 ? text : `HTTP ${status}`}; retry ${attempt + 1}/${this.options.maxRetries} in ${delay} ms`,
      );
      await sleep(delay);
    }
  }
}

/** The base URL without trailing slashes or a trailing `/v1` (so the provider's `.../v1/` form works too). */
function baseUrlOf(url: string): string {
  return url.replace(/\/+$/, '').replace(/\/v1$/, '');
}

function apiError(method: string, path: string, status: number, text: string, retries: number): VertexApiError {
  let reason = '';
  let message = text.slice(0, 500);
  try {
    const parsed = JSON.parse(text) as { error?: { status?: string; message?: string } };
    reason = parsed.error?.status ?? '';
    message = parsed.error?.message ?? message;
  } catch {
    // Not JSON (a proxy's HTML page): keep the raw text.
  }
  const after = retries > 0 ? ` after ${retries} retries` : '';
  return new VertexApiError(
    status,
    reason,
    `${method} ${path} failed${after}: ${status === 0 ? 'no connection' : `HTTP ${status}`}${reason ? ` ${reason}` : ''}: ${message}`,
  );
}

/** `75000` -> `1m15s`. */
export function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
