import { type FastifyError } from 'fastify';
import { type ErrorCode, ServingError } from './errors';
import { SUPPORTED_FORMATS } from './preprocess';

/** Codes the HTTP layer adds to the domain's: refusals fastify makes before the route runs, and bugs. */
export type HttpErrorCode =
  | ErrorCode
  | 'INVALID_JSON'
  | 'BODY_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'NOT_FOUND'
  | 'INTERNAL';

/** An error as it is answered: `{"error": {"code", "message", "instance"}}` with `status`. */
export interface HttpError {
  readonly status: number;
  readonly code: HttpErrorCode;
  readonly message: string;
  readonly instance?: number;
  /** Seconds for a `Retry-After` header: the refusal is temporary. */
  readonly retryAfterSeconds?: number;
}

/** The README's error table, for the domain's codes. A `Record`, so a new code cannot go unmapped. */
export const DOMAIN_ERROR_STATUS: Readonly<
  Record<ErrorCode, { readonly status: number; readonly retryAfterSeconds?: number }>
> = {
  INVALID_REQUEST: { status: 400 },
  TOO_MANY_INSTANCES: { status: 413 },
  INVALID_BASE64: { status: 400 },
  NOT_AN_IMAGE: { status: 400 },
  UNSUPPORTED_IMAGE_FORMAT: { status: 400 },
  IMAGE_TOO_LARGE: { status: 413 },
  INVALID_PARAMETER: { status: 400 },
  QUEUE_FULL: { status: 429, retryAfterSeconds: 1 },
  QUEUE_TIMEOUT: { status: 503, retryAfterSeconds: 1 },
  NOT_READY: { status: 503, retryAfterSeconds: 5 },
  SHUTTING_DOWN: { status: 503 },
  WORKER_FAILED: { status: 503, retryAfterSeconds: 1 },
};

/** Maps any error a request ends with to its answer: domain refusals, fastify's own, and bugs (500). */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof ServingError) {
    const { code, message, instance } = err;
    return { ...DOMAIN_ERROR_STATUS[code], code, message, ...(instance === undefined ? {} : { instance }) };
  }
  return fromFastifyError(err as Partial<FastifyError>);
}

function fromFastifyError(err: Partial<FastifyError>): HttpError {
  const message = err.message ?? '';
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        status: 413,
        code: 'BODY_TOO_LARGE',
        message: `the body is larger than ${message.match(/\d+/)?.[0] ?? 'the limit'} bytes (MAX_REQUEST_BYTES)`,
      };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        status: 415,
        code: 'UNSUPPORTED_MEDIA_TYPE',
        message: `send application/json, or an image (${[...SUPPORTED_FORMATS].join(', ')}) as image/* or application/octet-stream`,
      };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, code: 'INVALID_JSON', message: 'the body is empty' };
  }
  if (err instanceof SyntaxError || (err.statusCode === 400 && /JSON/i.test(message)))
    return { status: 400, code: 'INVALID_JSON', message: `the body is not valid JSON: ${message}` };
  if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500)
    return { status: err.statusCode, code: 'INVALID_REQUEST', message };
  return { status: 500, code: 'INTERNAL', message: 'internal error' };
}

/** The JSON body of an error answer. */
export function errorBody(err: HttpError): { error: { code: HttpErrorCode; message: string; instance?: number } } {
  const { code, message, instance } = err;
  return { error: { code, message, ...(instance === undefined ? {} : { instance }) } };
}
