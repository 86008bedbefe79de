/**
 * A small client for the Vertex AI REST API subset the deployer uses, with retries of transient
 * errors and waiting on long-running operations. REST reference:
 * https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.endpoints
 */

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
  /** Base URL without the version, e.g. `https://us-central1-aiplatform.googleapis.com`. */
  readonly baseUrl: string;
  /** Returns a current OAuth access token. */
  readonly token: () => Promise<string>;
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

  /** GET `/v1/<path>`; undefined on 404. */
  async get<T>(path: string): Promise<T | undefined> {
    try {
      return await this.request<T>('GET', path);
    } catch (err) {
      if (err instanceof VertexApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** POST `/v1/<path>` with a JSON body. */
  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  /** PATCH `/v1/<path>` with a JSON body. */
  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, body);
  }

  /**
   * Polls an operation until it is done, printing what it waits for with the elapsed time.
   * @param what a description such as `deploying yolo26n@v4 as 1234567890`
   * @param timeoutMs give up after this long
   * @returns the operation's `response`
   * @throws OperationError with the operation's own error message, or on timeout
   */
  async wait(op: Operation, what: string, timeoutMs: number): Promise<Record<string, unknown>> {
    const started = Date.now();
    let current = op;
    let lastReport = 0;
    while (!current.done) {
      const elapsed = Date.now() - started;
      if (elapsed > timeoutMs) {
        throw new OperationError(`${what}: still not done after ${formatDuration(elapsed)} (operation ${op.name})`);
      }
      // One line every 30 s at most: a 20-minute GPU deployment stays readable.
      if (lastReport === 0 || Date.now() - lastReport >= 30_000) {
        this.options.log(`  waiting: ${what} (${formatDuration(elapsed)} so far)`);
        lastReport = Date.now();
      }
      await sleep(this.options.pollIntervalMs);
      current = (await this.request<Operation>('GET', current.name)) ?? current;
    }
    if (current.error) {
      throw new OperationError(`${what} failed: ${current.error.message ?? `error code ${current.error.code}`}`);
    }
    this.options.log(`  done: ${what} (${formatDuration(Date.now() - started)})`);
    return current.response ?? {};
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = `${this.options.baseUrl.replace(/\/+$/, '')}/v1/${path.replace(/^\/+/, '')}`;
    for (let attempt = 0; ; attempt++) {
      let status: number;
      let text: string;
      // Outside the try: missing credentials are not a network blip worth retrying.
      const token = await this.options.token();
      try {
        const res = await fetch(url, {
          method,
          headers: {
            authorization: `Bearer ${token}`,
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
        throw apiError(method, path, status, text, attempt);
      }
      const cap = Math.min(this.options.backoffMaxMs, this.options.backoffBaseMs * 2 ** attempt);
      const delay = Math.round(cap * this.random());
      this.options.log(`  ${method} ${path}: ${status === 0 ? text : `HTTP ${status}`}; retry ${attempt + 1}/${this.options.maxRetries} in ${delay} ms`);
      await sleep(delay);
    }
  }
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
  return new VertexApiError(status, reason, `${method} ${path} failed${after}: ${status === 0 ? 'no connection' : `HTTP ${status}`}${reason ? ` ${reason}` : ''}: ${message}`);
}

/** `75000` -> `1m15s`. */
export function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
