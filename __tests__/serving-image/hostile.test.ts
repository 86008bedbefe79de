import { connect } from 'node:net';
import sharp from 'sharp';
import { PixelBudget } from '../../serving-image/src/pixel-budget';
import { jsonBody, solidImage } from './helpers/images';
import { startTestServer, type TestServer } from './helpers/server';
import { buildTinyModel } from './helpers/tiny-model';
import { answerComplete } from '../../scripts/lib/raw-http';

// Hostile and malformed requests, on a listening server (real sockets: fastify's inject never
// goes through Node's HTTP parser).
let server: TestServer;
let port: number;
beforeAll(async () => {
  server = await startTestServer(buildTinyModel({ size: 32, names: true }), {
    MAX_INSTANCES: '16',
    BODY_TIMEOUT_MS: '1500',
  });
  port = Number(new URL(await server.serving.app.listen({ host: '127.0.0.1', port: 0 })).port);
});
afterAll(() => server.close());

interface RawAnswer {
  readonly status: number;
  readonly body: string;
}

/**
 * Sends `request` as bytes on a new connection and resolves with the first answer (status and
 * body), or status 0 when the connection closes (or resets) without one.
 */
function raw(request: string | Buffer): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    const finish = () => {
      const text = data.toString('latin1');
      const head = text.indexOf('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, body: head < 0 ? '' : text.slice(head + 4) });
      socket.destroy();
    };
    socket.on('data', (chunk) => {
      data = Buffer.concat([data, chunk]);
      if (answerComplete(data)) finish();
    });
    socket.on('error', () => {});
    socket.on('close', finish);
    socket.write(request);
  });
}

/** Requests answered with `status`, over every route label. */
async function answered(status: number): Promise<number> {
  const text = (await server.serving.app.inject({ url: '/metrics' })).body;
  return text
    .split('\n')
    .filter((l) => l.startsWith('serving_http_requests_total{') && l.includes(`status="${status}"`))
    .reduce((n, l) => n + Number(l.split(' ')[1]), 0);
}

async function metric(sample: string): Promise<number> {
  const text = (await server.serving.app.inject({ url: '/metrics' })).body;
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? 0 : Number(line.slice(sample.length + 1));
}

const big = 'x'.repeat(20_000);
const httpCases = [
  {
    name: 'a duplicate Content-Length',
    request: 'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}',
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'an invalid Content-Length',
    request: 'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}',
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'bad chunking',
    request:
      'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'an oversized header',
    request: `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${big}\r\n\r\n`,
    status: 431,
    code: 'HEADERS_TOO_LARGE',
  },
  {
    name: 'an oversized URL',
    request: `GET /${big} HTTP/1.1\r\nHost: x\r\n\r\n`,
    status: 431,
    code: 'HEADERS_TOO_LARGE',
  },
  {
    name: 'a malformed URL',
    request: 'GET /predict%zz%80 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'a missing Host',
    request: 'GET /health HTTP/1.1\r\nConnection: close\r\n\r\n',
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
  {
    name: 'a request line that is not HTTP',
    request: 'HELLO\r\n\r\n',
    status: 400,
    code: 'MALFORMED_REQUEST',
  },
];

describe('HTTP-level refusals', () => {
  test.each(httpCases)(
    '$name is answered $status $code in the documented shape, logged and counted',
    async ({ request, status, code }) => {
      // GIVEN the count of answers with this status so far
      const counted = await answered(status);
      const logged = server.logs.length;
      // WHEN the request is sent as bytes
      const answer = await raw(request);
      // THEN the answer is the documented error body
      expect(answer.status).toBe(status);
      expect(JSON.parse(answer.body)).toEqual({ error: { code, message: expect.any(String) } });
      // AND it is logged with its code
      expect(
        server.logs.slice(logged).some((l) => l.code === code || (l.status === status && l.message === 'request')),
      ).toBe(true);
      // AND counted in the metrics
      expect(await answered(status)).toBe(counted + 1);
    },
  );
});

describe('slow and stalled uploads', () => {
  test('a body that stops arriving is answered 408 REQUEST_TIMEOUT after BODY_TIMEOUT_MS and gives its upload slot back', async () => {
    // GIVEN a client that sends headers announcing 1000 bytes, then 10 bytes, then nothing
    const started = Date.now();
    const answer = raw(
      'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 1000\r\n\r\n0123456789',
    );
    // THEN it is answered 408 with the documented body, not before BODY_TIMEOUT_MS (1.5 s)
    const { status, body } = await answer;
    expect([status, JSON.parse(body).error.code]).toEqual([408, 'REQUEST_TIMEOUT']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    // AND its upload slot is given back once the connection is closed
    for (let i = 0; i < 400 && (await metric('serving_uploads_in_progress')) !== 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(await metric('serving_uploads_in_progress')).toBe(0);
  });

  test('headers that never finish are answered 408 after BODY_TIMEOUT_MS', async () => {
    // GIVEN a client that sends half a request line and stops WHEN BODY_TIMEOUT_MS passes
    const { status, body } = await raw('POST /predict HTTP/1.1\r\nHost: x\r\n');
    // THEN it is answered 408 and the connection closed
    expect([status, JSON.parse(body).error.code]).toEqual([408, 'REQUEST_TIMEOUT']);
  });
});

describe('hostile parameters', () => {
  let red: Buffer;
  beforeAll(async () => {
    red = await solidImage([255, 0, 0], 32, 32);
  });
  const post = (payload: string) =>
    server.serving.app.inject({
      method: 'POST',
      url: '/predict',
      payload,
      headers: { 'content-type': 'application/json' },
    });
  const deep = (depth: number) => `${'['.repeat(depth)}0.5${']'.repeat(depth)}`;
  const huge = JSON.stringify('a'.repeat(5_000_000));
  const cases = [
    { name: 'confidence nested 5000 levels deep', parameters: `{"confidence": ${deep(5000)}}` },
    { name: 'classes nested 5000 levels deep', parameters: `{"classes": ${deep(5000)}}` },
    { name: 'a 5 MB string as iou', parameters: `{"iou": ${huge}}` },
    { name: 'a 5 MB parameter name', parameters: `{${huge}: 1}` },
    {
      name: 'an object of 100000 unknown parameters',
      parameters: JSON.stringify(Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`p${i}`, i]))),
    },
  ];

  test.each(cases)(
    '$name is refused 400 INVALID_PARAMETER with a short message and a short log line',
    async ({ parameters }) => {
      // GIVEN a valid instance and a hostile parameter
      const body = `{"instances": ${JSON.stringify(JSON.parse(jsonBody([red])).instances)}, "parameters": ${parameters}}`;
      const logged = server.logs.length;
      // WHEN it is posted
      const res = await post(body);
      // THEN it is a 400 INVALID_PARAMETER, not a 500
      expect([res.statusCode, res.json().error.code]).toEqual([400, 'INVALID_PARAMETER']);
      // AND neither the answer nor the log lines repeat the value whole
      expect(res.body.length).toBeLessThan(2000);
      expect(Math.max(...server.logs.slice(logged).map((l) => JSON.stringify(l).length))).toBeLessThan(2000);
    },
  );

  test('an unknown route of 5 MB is answered 404 with a short message', async () => {
    // GIVEN a URL path of 100 KB (Node's header limit is 16 KB: sent with inject, past the parser)
    const res = await server.serving.app.inject({ url: `/${'a'.repeat(100_000)}` });
    // THEN the message quotes only its start
    expect([res.statusCode, res.body.length < 2000]).toEqual([404, true]);
  });
});

describe('images within limits', () => {
  const thin = [
    { name: '1x20000', width: 1, height: 20000 },
    { name: '20000x1', width: 20000, height: 1 },
    { name: '2x3000', width: 2, height: 3000 },
  ];
  test.each(thin)('a thin $name image is served 200', async ({ width, height }) => {
    // GIVEN a valid image whose aspect ratio rounds a side to 0 at the model's size
    const image = await sharp({ create: { width, height, channels: 3, background: { r: 255, g: 0, b: 0 } } })
      .png()
      .toBuffer();
    // WHEN posted raw THEN it is served like any image
    const res = await server.serving.app.inject({
      method: 'POST',
      url: '/predict',
      payload: image,
      headers: { 'content-type': 'image/png' },
    });
    expect(res.statusCode).toBe(200);
  });

  test('a request of 16 instances prints no MaxListenersExceededWarning', async () => {
    // GIVEN a listener for process warnings
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      // WHEN 16 instances are posted
      const red = await solidImage([255, 0, 0], 32, 32);
      const res = await server.serving.app.inject({
        method: 'POST',
        url: '/predict',
        payload: jsonBody(Array.from({ length: 16 }, () => red)),
        headers: { 'content-type': 'application/json' },
      });
      expect(res.statusCode).toBe(200);
      await new Promise((r) => setImmediate(r));
      // THEN no warning was emitted
      expect(warnings).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });
});

describe('PixelBudget', () => {
  test('an image that does not fit waits until pixels are given back', async () => {
    // GIVEN a budget of 100 pixels, 60 taken
    const budget = new PixelBudget(100);
    const release = await budget.acquire(60);
    // WHEN 50 more are asked for THEN they wait
    let granted = false;
    const waiting = budget.acquire(50).then((r) => {
      granted = true;
      return r;
    });
    await new Promise((r) => setImmediate(r));
    expect([granted, budget.inUse]).toEqual([false, 60]);
    // WHEN the 60 are given back (twice: idempotent) THEN the 50 are granted
    release();
    release();
    (await waiting)();
    expect([granted, budget.inUse]).toEqual([true, 0]);
  });

  test('requests are granted in arrival order, a large one not overtaken by small ones', async () => {
    // GIVEN a budget of 100, 90 taken, then a request of 50 waiting, then one of 5
    const budget = new PixelBudget(100);
    const first = await budget.acquire(90);
    const order: number[] = [];
    const granted = (pixels: number) =>
      budget.acquire(pixels).then((release) => {
        order.push(pixels);
        return release;
      });
    const large = granted(50);
    const small = granted(5);
    await new Promise((r) => setImmediate(r));
    // THEN the small one, which would fit, waits behind the large one
    expect(order).toEqual([]);
    first();
    (await large)();
    (await small)();
    expect(order).toEqual([50, 5]);
  });

  test('an image larger than the whole budget runs alone', async () => {
    // GIVEN a budget of 100 WHEN 500 pixels are asked for THEN they are granted, taking all of it
    const budget = new PixelBudget(100);
    const release = await budget.acquire(500);
    expect(budget.inUse).toBe(100);
    release();
  });
});
