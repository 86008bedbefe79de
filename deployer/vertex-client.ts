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

/**
 * Vertex refused for lack of quota (HTTP 429 or an operation ending RESOURCE_EXHAUSTED that names a
 * quota metric), e.g. `aiplatform.googleapis.com/custom_model_serving_nvidia_l4_gpus`: a GPU quota
 * per region, which waiting does not raise. Retried at most once (a per-minute quota passes).
 */
export class QuotaError extends Error {
  constructor(
    /** The quota metric the answer names. */
    readonly quotaMetric: string,
    /** Region of the quota, when the answer says (`quota_location`). */
    readonly region: string | undefined,
    /** The limit, when the answer says. */
    readonly limit: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'QuotaError';
  }
}

/** A long-running operation that finished with an error, or did not finish in time. */
export class OperationError extends Error {
  /** @param code the operation's google.rpc.Code, when it ended with an error (7: PERMISSION_DENIED) */
  constructor(
    message: string,
    readonly code?: number,
  ) {
    super(message);
    this.name = 'OperationError';
  }
}

/** A refusal IAM propagation may lift: HTTP 403 PERMISSION_DENIED, or an operation that ended with code 7. */
function permissionDenied(err: unknown): boolean {
  if (err instanceof VertexApiError) return err.status === 403 && err.reason === 'PERMISSION_DENIED';
  return err instanceof OperationError && err.code === 7;
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
  /**
   * How long {@link VertexClient.whilePermissionPropagates} keeps retrying PERMISSION_DENIED in one
   * run, milliseconds: Google documents up to 7 minutes for IAM changes to propagate.
   * @default 420000
   */
  readonly iamPropagationMs?: number;
  /** Wait between those retries, milliseconds. @default 30000 */
  readonly iamRetryMs?: number;
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

/** Google's page on IAM propagation, cited when the deployer waits for it. */
export const IAM_PROPAGATION_DOC = 'https://cloud.google.com/iam/docs/access-change-propagation';

/** Vertex REST calls with bounded exponential backoff and full jitter on 429/5xx. */
export class VertexClient {
  private readonly random: () => number;
  /** When this run first met PERMISSION_DENIED in {@link whilePermissionPropagates}. */
  private permissionDeniedSince?: number;

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
    /** `version`: the API version (v1 by default); `propagating`: a PERMISSION_DENIED is retried while IAM propagates (see {@link whilePermissionPropagates}). */
    options: {
      readonly version?: ApiVersion;
      readonly propagating?: { readonly what: string; readonly waitingFor: string };
    } = {},
  ): Promise<T> {
    const send = () => this.request<T>('POST', path, body, beforeRetry, options.version ?? 'v1');
    const { propagating } = options;
    return propagating ? this.whilePermissionPropagates(propagating.what, propagating.waitingFor, send) : send();
  }

  /** PATCH `/v1/<path>` with a JSON body. */
  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, body);
  }

  /**
   * Runs `call`, retrying an HTTP 403 PERMISSION_DENIED while IAM changes the stack just made may
   * still be propagating (a new serving account and its grants: up to 7 minutes, https://cloud.google.com/iam/docs/access-change-propagation),
   * with a line saying why it waits. The time is bounded per run (`iamPropagationMs`, counted from the
   * first refusal), so a permission that is really missing fails within it.
   * @param what e.g. `deploy yolo26n@v4 as deployed model 1000000004`
   * @param waitingFor what may still be propagating, e.g. `the new serving account vertex-serving@...`
   */
  async whilePermissionPropagates<T>(what: string, waitingFor: string, call: () => Promise<T>): Promise<T> {
    const budget = this.options.iamPropagationMs ?? 420_000;
    const interval = this.options.iamRetryMs ?? 30_000;
    for (;;) {
      try {
        return await call();
      } catch (err) {
        if (!permissionDenied(err)) throw err;
        this.permissionDeniedSince ??= Date.now();
        const waited = Date.now() - this.permissionDeniedSince;
        if (waited + interval > budget) {
          const refused = err as Error;
          throw new VertexApiError(
            403,
            'PERMISSION_DENIED',
            `${refused.message} (still refused after waiting ${formatDuration(waited)} for IAM propagation, the most this run waits: ` +
              `a permission is missing rather than propagating; the identity that runs cdktf needs roles/aiplatform.user and ` +
              `roles/iam.serviceAccountUser on ${waitingFor}, see docs/operations.md#permission-propagation)`,
          );
        }
        this.options.log(
          `  ${what}: PERMISSION_DENIED; IAM changes take up to 7 minutes to propagate (${IAM_PROPAGATION_DOC}) and ${waitingFor} may be new: ` +
            `retrying in ${formatDuration(interval)} (${formatDuration(waited)} of at most ${formatDuration(budget)})`,
        );
        await sleep(interval);
      }
    }
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
      const message = `${what} failed: ${current.error.message ?? `error code ${current.error.code}`}`;
      // google.rpc.Code 8: RESOURCE_EXHAUSTED, e.g. "The following quota metrics exceed quota limits: ...".
      const metric = current.error.code === 8 ? quotaMetricIn(current.error.message ?? '') : undefined;
      throw metric
        ? new QuotaError(metric, undefined, undefined, message)
        : new OperationError(message, current.error.code);
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
      const quota = status === 429 ? quotaOf(text) : undefined;
      // A quota does not grow by waiting: one retry (a per-minute quota may have passed), then stop.
      const retries = quota ? Math.min(1, this.options.maxRetries) : this.options.maxRetries;
      const where = version === 'v1' ? path : `${version}/${path}`;
      if (!retryable || attempt >= retries) {
        const error = apiError(method, where, status, text, attempt);
        throw quota ? new QuotaError(quota.metric, quota.region, quota.limit, error.message) : error;
      }
      const cap = Math.min(this.options.backoffMaxMs, this.options.backoffBaseMs * 2 ** attempt);
      const delay = Math.round(cap * this.random());
      this.options.log(
        `  ${method} ${where}: ${status === 0 ? text : `HTTP ${status}`}${quota ? ` (quota ${quota.metric})` : ''}; retry ${attempt + 1}/${retries} in ${delay} ms`,
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

/** A quota metric such as `aiplatform.googleapis.com/custom_model_serving_nvidia_l4_gpus` in a message. */
function quotaMetricIn(message: string): string | undefined {
  return /quota/i.test(message) ? /\b[a-z0-9-]+\.googleapis\.com\/[A-Za-z0-9_/]+/.exec(message)?.[0] : undefined;
}

interface ErrorDetail {
  readonly '@type'?: string;
  readonly reason?: string;
  readonly metadata?: Record<string, string>;
  readonly violations?: readonly {
    readonly subject?: string;
    readonly description?: string;
    readonly quotaMetric?: string;
    readonly quotaDimensions?: Record<string, string>;
    readonly quotaValue?: string | number;
  }[];
}

/**
 * The quota a 429 answer names, unless it is a rate limit (requests per minute) that backoff
 * outlasts. Read from `google.rpc.QuotaFailure` and `google.rpc.ErrorInfo` details
 * (https://cloud.google.com/apis/design/errors#error_details), else from the message
 * ("The following quota metrics exceed quota limits: ...").
 */
function quotaOf(text: string): { metric: string; region?: string; limit?: string } | undefined {
  let error: { message?: string; details?: readonly ErrorDetail[] } | undefined;
  try {
    error = (JSON.parse(text) as { error?: typeof error }).error;
  } catch {
    return undefined;
  }
  const details = error?.details ?? [];
  const info = details.find((d) => d['@type']?.endsWith('google.rpc.ErrorInfo'));
  const violation = details.find((d) => d['@type']?.endsWith('google.rpc.QuotaFailure'))?.violations?.[0];
  const meta = info?.metadata ?? {};
  if (info?.reason === 'RATE_LIMIT_EXCEEDED' || /per ?minute/i.test(meta.quota_limit ?? '')) return undefined;
  const metric = meta.quota_metric ?? violation?.quotaMetric ?? quotaMetricIn(error?.message ?? '');
  if (!metric) return undefined;
  const value = meta.quota_limit_value ?? violation?.quotaValue;
  return {
    metric,
    region: meta.quota_location ?? violation?.quotaDimensions?.region,
    limit: value === undefined ? undefined : String(value),
  };
}

/** `75000` -> `1m15s`. */
export function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
