/** Machine-readable error codes of the predict route; the README lists when each is sent. */
export type ErrorCode =
  | 'INVALID_JSON'
  | 'INVALID_REQUEST'
  | 'TOO_MANY_INSTANCES'
  | 'BODY_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'INVALID_BASE64'
  | 'NOT_AN_IMAGE'
  | 'UNSUPPORTED_IMAGE_FORMAT'
  | 'IMAGE_TOO_LARGE'
  | 'INVALID_PARAMETER'
  | 'NOT_FOUND'
  | 'QUEUE_FULL'
  | 'QUEUE_TIMEOUT'
  | 'NOT_READY'
  | 'SHUTTING_DOWN'
  | 'WORKER_FAILED'
  | 'INTERNAL';

/**
 * An error answered as `{"error": {"code", "message", "instance"}}` with `status`. Thrown for
 * anything the caller can act on (bad input, overload); anything else becomes a 500 INTERNAL.
 */
export class HttpError extends Error {
  constructor(
    /** HTTP status. */
    readonly status: number,
    /** Machine-readable code. */
    readonly code: ErrorCode,
    message: string,
    /** Index of the instance at fault, when one is. */
    readonly instance?: number,
    /** Seconds for a `Retry-After` header. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'HttpError';
  }

  /** The same error blamed on instance `index`. */
  at(index: number): HttpError {
    return new HttpError(this.status, this.code, this.message, index, this.retryAfterSeconds);
  }

  /** The JSON body. */
  toJSON(): { error: { code: ErrorCode; message: string; instance?: number } } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.instance === undefined ? {} : { instance: this.instance }),
      },
    };
  }
}
