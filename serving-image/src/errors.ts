/**
 * Why a prediction was refused, as the README's error table names it. The HTTP status that goes
 * with each is the HTTP layer's business (http-errors.ts): the engine and the request pipeline
 * stay free of HTTP.
 */
export type ErrorCode =
  | 'INVALID_REQUEST'
  | 'TOO_MANY_INSTANCES'
  | 'INVALID_BASE64'
  | 'NOT_AN_IMAGE'
  | 'UNSUPPORTED_IMAGE_FORMAT'
  | 'IMAGE_TOO_LARGE'
  | 'INVALID_PARAMETER'
  | 'QUEUE_FULL'
  | 'QUEUE_TIMEOUT'
  | 'NOT_READY'
  | 'SHUTTING_DOWN'
  | 'WORKER_FAILED';

/**
 * A refusal the caller can act on (bad input, overload, shutdown); any other error is a bug and
 * is answered as one.
 */
export class ServingError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Index of the instance at fault, when one is. */
    readonly instance?: number,
  ) {
    super(message);
    this.name = 'ServingError';
  }

  /** The same error blamed on instance `index`. */
  at(index: number): ServingError {
    return new ServingError(this.code, this.message, index);
  }
}

/** Said the same way wherever shutdown turns work away. */
export function shuttingDown(): ServingError {
  return new ServingError('SHUTTING_DOWN', 'the server is shutting down');
}
