import { type ErrorCode, ServingError } from '../../serving-image/src/errors';
import { errorBody, fromClientError, toHttpError } from '../../serving-image/src/http-errors';

describe('toHttpError: domain errors', () => {
  // The README's error table: status, and Retry-After for the refusals worth retrying.
  const rows: [ErrorCode, number, number | undefined][] = [
    ['INVALID_REQUEST', 400, undefined],
    ['TOO_MANY_INSTANCES', 413, undefined],
    ['INVALID_BASE64', 400, undefined],
    ['NOT_AN_IMAGE', 400, undefined],
    ['UNSUPPORTED_IMAGE_FORMAT', 400, undefined],
    ['IMAGE_TOO_LARGE', 413, undefined],
    ['INVALID_PARAMETER', 400, undefined],
    ['QUEUE_FULL', 429, 1],
    ['QUEUE_TIMEOUT', 503, 1],
    ['NOT_READY', 503, 5],
    ['SHUTTING_DOWN', 503, undefined],
    ['WORKER_FAILED', 503, 1],
  ];
  // Objects, not arrays: jest would pass its `done` callback in place of a missing last element.
  const cases = rows.map(([code, status, retryAfterSeconds]) => ({ code, status, retryAfterSeconds }));

  test.each(cases)('$code is answered $status', ({ code, status, retryAfterSeconds }) => {
    // GIVEN a domain error WHEN mapped
    const http = toHttpError(new ServingError(code, 'why'));
    // THEN its status, code, message and Retry-After are the documented ones
    expect(http).toEqual({ status, code, message: 'why', ...(retryAfterSeconds ? { retryAfterSeconds } : {}) });
  });

  test('the instance at fault is kept', () => {
    // GIVEN an error blamed on instance 2 WHEN mapped and rendered
    const body = errorBody(toHttpError(new ServingError('NOT_AN_IMAGE', 'the bytes are not an image').at(2)));
    // THEN the body names the instance
    expect(body).toEqual({ error: { code: 'NOT_AN_IMAGE', message: 'the bytes are not an image', instance: 2 } });
  });
});

describe('toHttpError: errors from fastify and bugs', () => {
  const fastifyError = (code: string, statusCode: number, message: string) =>
    Object.assign(new Error(message), { code, statusCode });
  const rows: [string, unknown, number, string][] = [
    [
      'a body over the limit',
      fastifyError('FST_ERR_CTP_BODY_TOO_LARGE', 413, 'Request body is too large'),
      413,
      'BODY_TOO_LARGE',
    ],
    [
      'an unsupported Content-Type',
      fastifyError('FST_ERR_CTP_INVALID_MEDIA_TYPE', 415, 'Unsupported Media Type'),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    ['an empty JSON body', fastifyError('FST_ERR_CTP_EMPTY_JSON_BODY', 400, 'empty'), 400, 'INVALID_JSON'],
    ['a JSON syntax error', new SyntaxError('Unexpected end of JSON input'), 400, 'INVALID_JSON'],
    ['a malformed URL', fastifyError('FST_ERR_BAD_URL', 400, 'bad url'), 400, 'MALFORMED_REQUEST'],
    [
      'another client error of fastify',
      fastifyError('FST_ERR_CTP_INVALID_CONTENT_LENGTH', 400, 'bad length'),
      400,
      'INVALID_REQUEST',
    ],
    ['an error that is not a refusal (a bug)', new Error('inference failed: boom'), 500, 'INTERNAL'],
  ];
  const cases = rows.map(([name, err, status, code]) => ({ name, err, status, code }));

  test.each(cases)('$name is answered $status $code', ({ err, status, code }) => {
    // GIVEN an error that is not a domain error WHEN mapped
    const http = toHttpError(err);
    // THEN status and code are exact, and nothing asks for a retry
    expect([http.status, http.code, http.retryAfterSeconds]).toEqual([status, code, undefined]);
  });

  test("a bug's own message is not sent to the caller", () => {
    // GIVEN an unexpected error WHEN mapped
    const http = toHttpError(new Error('secret internals'));
    // THEN the message is generic
    expect(http.message).toBe('internal error');
  });
});

describe('toHttpError: limits and echoes', () => {
  test('the 413 names the number of bytes the body may have', () => {
    // GIVEN fastify's body-too-large error, whose message has no number
    const err = Object.assign(new Error('Request body is too large'), {
      code: 'FST_ERR_CTP_BODY_TOO_LARGE',
      statusCode: 413,
    });
    // WHEN mapped with the configured limit THEN the message names it
    expect(toHttpError(err, { maxRequestBytes: 200000 }).message).toBe(
      'the body is larger than 200000 bytes (MAX_REQUEST_BYTES)',
    );
  });

  test('a domain message quoting a huge value is cut', () => {
    // GIVEN a refusal whose message holds 5 MB WHEN mapped
    const http = toHttpError(new ServingError('INVALID_PARAMETER', `x=${'a'.repeat(5_000_000)}`));
    // THEN the answer is short
    expect(http.message.length).toBeLessThan(1000);
  });
});

describe('fromClientError: refusals of the HTTP parser', () => {
  const parserError = (code: string, reason: string) =>
    Object.assign(new Error(`Parse Error: ${reason}`), { code, reason });
  const cases = [
    {
      name: 'a body too slow to arrive',
      err: { code: 'ERR_HTTP_REQUEST_TIMEOUT' },
      status: 408,
      code: 'REQUEST_TIMEOUT',
    },
    {
      name: 'oversized headers',
      err: parserError('HPE_HEADER_OVERFLOW', 'Header overflow'),
      status: 431,
      code: 'HEADERS_TOO_LARGE',
    },
    {
      name: 'a duplicate Content-Length',
      err: parserError('HPE_UNEXPECTED_CONTENT_LENGTH', 'Duplicate Content-Length'),
      status: 400,
      code: 'MALFORMED_REQUEST',
    },
    {
      name: 'bad chunking',
      err: parserError('HPE_INVALID_CHUNK_SIZE', 'Invalid character in chunk size'),
      status: 400,
      code: 'MALFORMED_REQUEST',
    },
  ];

  test.each(cases)('$name is answered $status $code', ({ err, status, code }) => {
    // GIVEN an error Node's HTTP server raised on a connection WHEN mapped
    const http = fromClientError(err, { bodyTimeoutMs: 10000 });
    // THEN status and code are the documented ones
    expect([http.status, http.code]).toEqual([status, code]);
  });
});
