/**
 * Sends the serving image a sweep of malformed and hostile requests and prints how each class of
 * request was answered: a 5xx, a reset or no answer for bad input is a bug. Prints numbers; asserts nothing.
 *
 *   npm run hostile-sweep                            # ../shared/models/yolov8n-int8.onnx, default settings
 *   npm run hostile-sweep -- --model path/to/model.onnx --body-timeout-ms 3000
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { answerComplete } from './lib/raw-http';
import { bombPng } from './lib/png-bomb';

const ROOT = path.resolve(__dirname, '..');
const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: path.resolve(ROOT, '..', 'shared', 'models', 'yolov8n-int8.onnx') },
    image: { type: 'string', default: path.resolve(ROOT, '..', 'shared', 'images', 'bus.jpg') },
    'body-timeout-ms': { type: 'string', default: '3000' },
  },
});

/** One raw exchange: the status answered (0: closed or reset without an answer) and the error code. */
function exchange(port: number, request: Buffer, timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    let done = false;
    const finish = (why?: string) => {
      if (done) return;
      done = true;
      socket.destroy();
      const text = data.toString('latin1');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1];
      const code = /"code":"([A-Z0-9_]+)"/.exec(text)?.[1] ?? (/"status":"(\w+)"/.exec(text)?.[1] || '');
      resolve(status ? `${status} ${code}`.trim() : (why ?? 'closed without an answer'));
    };
    socket.setTimeout(timeoutMs, () => finish('no answer (client timeout)'));
    socket.on('data', (chunk) => {
      data = Buffer.concat([data, chunk]);
      if (answerComplete(data)) finish();
    });
    // EPIPE while still sending a body the server refused early (413, 429): its answer may still be readable.
    let failure: string | undefined;
    socket.on('error', (err: NodeJS.ErrnoException) => (failure = err.code ?? err.message));
    socket.on('close', () => finish(failure));
    socket.write(request);
  });
}

const http = (method: string, url: string, type: string | undefined, body: Buffer | string, extra = ''): Buffer => {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const head = `${method} ${url} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${type ? `Content-Type: ${type}\r\n` : ''}Content-Length: ${b.length}\r\n${extra}\r\n`;
  return Buffer.concat([Buffer.from(head), b]);
};

async function cases(): Promise<{ name: string; request: Buffer; timeoutMs?: number }[]> {
  const jpeg = readFileSync(args.image);
  const b64 = jpeg.toString('base64');
  const inst = (image: unknown) => ({ image });
  const json = (body: unknown) => http('POST', '/predict', 'application/json', JSON.stringify(body));
  const withParams = (parameters: string) =>
    http('POST', '/predict', 'application/json', `{"instances":[{"image":"${b64}"}],"parameters":${parameters}}`);
  const out: { name: string; request: Buffer; timeoutMs?: number }[] = [];
  const add = (name: string, request: Buffer, timeoutMs?: number) => out.push({ name, request, timeoutMs });
  const params = ['confidence', 'iou', 'maxDetections', 'classes', 'return_annotated_image'];
  for (const p of params) {
    for (const depth of [10, 1000, 5000, 50000])
      add(`parameter: ${p} nested ${depth} deep`, withParams(`{"${p}":${'['.repeat(depth)}1${']'.repeat(depth)}}`));
    for (const size of [1000, 100_000, 5_000_000])
      add(`parameter: ${p} a ${size}-character string`, withParams(`{"${p}":"${'a'.repeat(size)}"}`));
    for (const v of ['null', 'true', '"x"', '-1', '2', '1e400', '{}', '[]', '[-1]', '[1.5]', '{"a":{"b":[1]}}'])
      add(`parameter: ${p} = ${v}`, withParams(`{"${p}":${v}}`));
  }
  add('parameter: 5 MB name', withParams(`{"${'k'.repeat(5_000_000)}":1}`));
  add(
    'parameter: 100000 unknown keys',
    withParams(JSON.stringify(Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, i])))),
  );
  add('parameters: not an object', withParams('[1,2]'));
  add('parameters: a string', withParams('"x"'));
  for (const body of [
    {},
    { instances: [] },
    { instances: {} },
    { instances: 'x' },
    { instances: [1] },
    { instances: [{}] },
    { instances: [inst(1)] },
    { instances: [inst({ b64: 1 })] },
    { instances: [inst('!!!!')] },
    { instances: [inst('a')] },
    { instances: [inst(Buffer.from('not an image').toString('base64'))] },
    { instances: Array.from({ length: 17 }, () => inst(b64)) },
    { instances: Array.from({ length: 1000 }, () => inst('')) },
  ])
    add(`body: ${JSON.stringify(body).slice(0, 60)}`, json(body));
  add(
    'body: nested 100000 deep',
    http('POST', '/predict', 'application/json', `${'['.repeat(100_000)}${']'.repeat(100_000)}`),
  );
  add('body: invalid JSON', http('POST', '/predict', 'application/json', '{"instances":'));
  add('body: empty JSON', http('POST', '/predict', 'application/json', ''));
  add('body: 11 MB', http('POST', '/predict', 'application/json', 'a'.repeat(11 * 1024 * 1024)));
  add(
    'body: __proto__',
    http('POST', '/predict', 'application/json', `{"__proto__":{"x":1},"instances":[{"image":"${b64}"}]}`),
  );
  const images: [string, Buffer][] = [
    ['truncated JPEG', jpeg.subarray(0, jpeg.length / 2)],
    ['JPEG header only', jpeg.subarray(0, 200)],
    [
      'GIF',
      await sharp({ create: { width: 8, height: 8, channels: 3, background: 'red' } })
        .gif()
        .toBuffer(),
    ],
    [
      'TIFF',
      await sharp({ create: { width: 8, height: 8, channels: 3, background: 'red' } })
        .tiff()
        .toBuffer(),
    ],
    ['SVG', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')],
    [
      '1x20000 PNG',
      await sharp({ create: { width: 1, height: 20000, channels: 3, background: 'red' } })
        .png()
        .toBuffer(),
    ],
    [
      '20000x1 PNG',
      await sharp({ create: { width: 20000, height: 1, channels: 3, background: 'red' } })
        .png()
        .toBuffer(),
    ],
    [
      '1x1 PNG',
      await sharp({ create: { width: 1, height: 1, channels: 3, background: 'red' } })
        .png()
        .toBuffer(),
    ],
    [
      '6000x6000 RGBA PNG',
      await sharp({ create: { width: 6000, height: 6000, channels: 4, background: { r: 1, g: 2, b: 3, alpha: 0.5 } } })
        .png()
        .toBuffer(),
    ],
    ['PNG header claiming 100000x100000', bombPng(100_000, 100_000)],
    ['random bytes', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256))],
    ['empty', Buffer.alloc(0)],
  ];
  for (const [name, bytes] of images) {
    add(`raw image: ${name}`, http('POST', '/predict', 'image/png', bytes));
    add(`JSON image: ${name}`, json({ instances: [inst(bytes.toString('base64'))] }));
  }
  for (const type of [
    'text/plain',
    'multipart/form-data; boundary=x',
    'application/xml',
    'image/png; charset=binary',
    'application/json; charset=latin1',
  ])
    add(`content type: ${type}`, http('POST', '/predict', type, jpeg));
  add('content type: none', http('POST', '/predict', undefined, jpeg));
  for (const method of ['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'])
    add(
      `method: ${method} /predict`,
      http(method, '/predict', 'image/jpeg', method === 'GET' || method === 'HEAD' ? '' : jpeg),
    );
  const raw = (name: string, text: string, timeoutMs?: number) =>
    add(`http: ${name}`, Buffer.from(text, 'latin1'), timeoutMs);
  raw(
    'duplicate Content-Length',
    'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}',
  );
  raw('invalid Content-Length', 'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}');
  raw('negative Content-Length', 'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n{}');
  raw(
    'Content-Length and chunked',
    'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  );
  raw(
    'bad chunk size',
    'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
  );
  raw('20 KB header', `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'x'.repeat(20_000)}\r\n\r\n`);
  raw(
    '1000 headers',
    `GET /health HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 1000 }, (_, i) => `X-${i}: y\r\n`).join('')}\r\n`,
  );
  raw('20 KB URL', `GET /${'x'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
  raw('malformed URL', 'GET /predict%zz%80 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  raw('missing Host', 'GET /health HTTP/1.1\r\nConnection: close\r\n\r\n');
  raw('not HTTP', 'HELLO\r\n\r\n');
  raw('HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
  raw('NUL in header', 'GET /health HTTP/1.1\r\nHost: x\r\nX: a\u0000b\r\n\r\n');
  raw('bare LF', 'GET /health HTTP/1.1\nHost: x\n\n');
  raw('absolute URL', 'GET http://evil/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  raw(
    'stalled body',
    `POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: ${jpeg.length}\r\n\r\n${jpeg.subarray(0, 100).toString('latin1')}`,
  );
  raw('stalled headers', 'POST /predict HTTP/1.1\r\nHost: x\r\n');
  raw('nothing sent', '');
  return out;
}

async function main(): Promise<void> {
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const server = spawn(process.execPath, [path.join(ROOT, 'serving-image', 'dist', 'main.js')], {
    env: {
      ...process.env,
      MODEL_PATH: args.model,
      HOST: '127.0.0.1',
      AIP_HTTP_PORT: String(port),
      BODY_TIMEOUT_MS: args['body-timeout-ms'],
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let tail = '';
  const collect = (d: Buffer) => {
    const parts = (tail + d.toString()).split('\n');
    tail = parts.pop()!;
    lines.push(...parts);
  };
  server.stdout.on('data', collect);
  server.stderr.on('data', collect);
  while (
    (await fetch(`http://127.0.0.1:${port}/health`).then(
      (r) => r.status,
      () => 0,
    )) !== 200
  )
    await new Promise((r) => setTimeout(r, 200));
  const all = await cases();
  const outcomes = new Map<string, string[]>();
  // Four at a time, so that a slow one (a stalled upload) does not hold the others.
  for (let i = 0; i < all.length; i += 4) {
    const batch = all.slice(i, i + 4);
    const answers = await Promise.all(batch.map((c) => exchange(port, c.request, c.timeoutMs)));
    for (const [j, c] of batch.entries()) outcomes.set(answers[j], [...(outcomes.get(answers[j]) ?? []), c.name]);
  }
  const alive = await fetch(`http://127.0.0.1:${port}/health`).then(
    (r) => r.status,
    () => 0,
  );
  // SIGTERM with a stalled upload open: how long until the process exits.
  const stalled = connect(port, '127.0.0.1');
  stalled.on('error', () => {});
  stalled.write('POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\nabc');
  while (
    !(await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text())).includes('serving_uploads_in_progress 1')
  )
    await new Promise((r) => setTimeout(r, 10));
  const exited = new Promise((r) => server.on('exit', (c, s) => r(c ?? s)));
  const t0 = Date.now();
  server.kill('SIGTERM');
  const code = await exited;
  const exitMs = Date.now() - t0;
  stalled.destroy();
  const nonJson = lines.filter((l) => {
    try {
      return typeof JSON.parse(l).severity !== 'string';
    } catch {
      return true;
    }
  });
  const longest = Math.max(...lines.map((l) => l.length));
  console.log(`${all.length} hostile requests; outcomes:`);
  for (const [outcome, names] of [...outcomes].sort())
    console.log(`  ${outcome.padEnd(32)} ${String(names.length).padStart(4)}  e.g. ${names.slice(0, 3).join('; ')}`);
  const bad = [...outcomes].filter(([o]) => !/^[24]\d\d/.test(o));
  console.log(
    `5xx, resets or no answer: ${bad.reduce((n, [, v]) => n + v.length, 0)}${bad.length ? ` (${bad.map(([o, v]) => `${o}: ${v.join('; ')}`).join(' | ')})` : ''}`,
  );
  console.log(
    `health after the sweep: ${alive}; exit after SIGTERM with a stalled upload open: ${code} in ${exitMs} ms; log lines: ${lines.length}, not JSON: ${nonJson.length}, longest: ${longest} characters`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
