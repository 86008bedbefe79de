import { STATUS_CODES } from 'node:http';
import { type FastifyError } from 'fastify';
import { MAX_ECHO_CHARS, truncate } from './echo';
import { type ErrorCode, ServingError } from './errors';
import { SUPPORTED_FORMATS } from './preprocess';

/** Codes the HTTP layer adds to the domain's: refusals fastify makes before the route runs, and bugs. */
export type HttpErrorCode =
  | ErrorCode
  | 'INVALID_JSON'
  | 'BODY_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'NOT_FOUND'
  | 'MALFORMED_REQUEST'
  | 'HEADERS_TOO_LARGE'
  | 'REQUEST_TIMEOUT'
  | 'INTERNAL';

/** Limits quoted in refusals, so that a message names the number, not only the variable. */
export interface HttpLimits {
  readonly maxRequestBytes?: number;
  readonly bodyTimeoutMs?: number;
}

/** Longest message answered or logged: longer ones (which can only be echoes) are cut. */
const MAX_MESSAGE_CHARS = 4 * MAX_ECHO_CHARS + 200;

/** An error as it is answered: `{"error": {"code", "message", "instance"}}` with `status`. */
export interface HttpError {
  readonly status: number;
  readonly code: HttpErrorCode;
  readonly message: string;
  readonly instance?: number;
  /** Seconds for a `Retry-After` header: the refusal is temporary. */
  readonly retryAfterSeconds?: number;
}

/** A refusal the HTTP layer makes itself (e.g. a request without Host), answered as `error` says. */
export class HttpRefusal extends Error {
  constructor(readonly error: HttpError) {
    super(error.message);
    this.name = 'HttpRefusal';
  }
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
export function toHttpError(err: unknown, limits: HttpLimits = {}): HttpError {
  if (err instanceof ServingError) {
    const { code, instance } = err;
    const message = truncate(err.message, MAX_MESSAGE_CHARS);
    return { ...DOMAIN_ERROR_STATUS[code], code, message, ...(instance === undefined ? {} : { instance }) };
  }
  if (err instanceof HttpRefusal) return err.error;
  const httpError = fromFastifyError(err as Partial<FastifyError>, limits);
  return { ...httpError, message: truncate(httpError.message, MAX_MESSAGE_CHARS) };
}

/**
 * Maps an error Node's HTTP parser (or its request timeout) raised on a connection, before any
 * route ran (the server's 'clientError' event): a malformed request, oversized headers, a body
 * too slow to arrive.
 */
export function fromClientError(err: Partial<NodeJS.ErrnoException>, limits: HttpLimits = {}): HttpError {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        status: 408,
        code: 'REQUEST_TIMEOUT',
        message: `the request did not arrive within ${limits.bodyTimeoutMs ?? 'the limit of'} ms (BODY_TIMEOUT_MS)`,
      };
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, code: 'HEADERS_TOO_LARGE', message: 'the request line and headers are too large' };
  }
  // HPE_UNEXPECTED_CONTENT_LENGTH, HPE_INVALID_CONTENT_LENGTH, HPE_INVALID_CHUNK_SIZE...: llhttp's
  // reason, without the bytes it quotes.
  const reason = (err as { reason?: string }).reason ?? err.message ?? 'unparsable';
  return {
    status: 400,
    code: 'MALFORMED_REQUEST',
    message: `malformed HTTP request: ${truncate(reason)}${err.code ? ` (${err.code})` : ''}`,
  };
}

/** A whole HTTP/1.1 error answer, for a socket no fastify reply owns; the connection closes after it. */
export function rawErrorResponse(err: HttpError): string {
  const body = JSON.stringify(errorBody(err));
  return [
    `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? ''}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}

function fromFastifyError(err: Partial<FastifyError>, limits: HttpLimits): HttpError {
  const message = err.message ?? '';
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        status: 413,
        code: 'BODY_TOO_LARGE',
        message: `the body is larger than ${limits.maxRequestBytes ?? 'the limit'} bytes (MAX_REQUEST_BYTES)`,
      };
    case 'FST_ERR_BAD_URL':
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return { status: 400, code: 'MALFORMED_REQUEST', message: 'the URL is malformed' };
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
