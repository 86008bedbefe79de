/**
 * Measures the serving image's memory: peak and settled RSS under a decompression-bomb mix and
 * under an overload, against the documented bound. Prints numbers; asserts nothing.
 *
 *   npm run memcheck                                  # ../shared/models/yolov8n-int8.onnx, 120 s overload
 *   npm run memcheck -- --overload 30 --bound-mb 1536
 *   MALLOC_ARENA_MAX=2 npm run memcheck               # the server inherits the environment
 *   LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 npm run memcheck
 *
 * 1. Bomb mix: 4 clients at once, each sending requests of 16 instances of a small PNG that
 *    decodes to 6000x6000 RGBA (within MAX_IMAGE_PIXELS), `--bomb-rounds` requests each.
 * 2. Overload: `--clients` clients in a closed loop for `--overload` seconds, each a new
 *    connection per request, mixing raw JPEG bodies, JSON bodies of 1-4 instances and the bombs.
 * After each phase the server idles `--settle` seconds and its RSS is read again (settled).
 * RSS is read from /proc/<pid>/status (VmRSS every 100 ms; VmHWM for the peak), Linux only.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';

const ROOT = path.resolve(__dirname, '..');
const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: path.resolve(ROOT, '..', 'shared', 'models', 'yolov8n-int8.onnx') },
    images: { type: 'string', default: path.resolve(ROOT, '..', 'shared', 'images') },
    overload: { type: 'string', default: '120' },
    clients: { type: 'string', default: '32' },
    'bomb-rounds': { type: 'string', default: '3' },
    settle: { type: 'string', default: '15' },
    'bound-mb': { type: 'string', default: '1536' },
  },
});

const kb = (pid: number, field: string): number => {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
};
const mb = (k: number) => Math.round(k / 1024);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const port = await freePort();
  const server = spawn(process.execPath, [path.join(ROOT, 'serving-image', 'dist', 'main.js')], {
    env: { ...process.env, MODEL_PATH: args.model, HOST: '127.0.0.1', AIP_HTTP_PORT: String(port), LOG_LEVEL: 'error' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const pid = server.pid!;
  const url = `http://127.0.0.1:${port}`;
  while (
    (await fetch(`${url}/health`).then(
      (r) => r.status,
      () => 0,
    )) !== 200
  )
    await sleep(200);
  const baseline = kb(pid, 'VmRSS');
  console.log(
    `server pid ${pid} at ${url}; baseline RSS ${mb(baseline)} MB; MALLOC_ARENA_MAX=${process.env.MALLOC_ARENA_MAX ?? '-'} LD_PRELOAD=${process.env.LD_PRELOAD ?? '-'}`,
  );

  let peakSampled = 0;
  const sampler = setInterval(() => (peakSampled = Math.max(peakSampled, kb(pid, 'VmRSS'))), 100);

  const bomb = await sharp({
    create: { width: 6000, height: 6000, channels: 4, background: { r: 10, g: 20, b: 30, alpha: 0.5 } },
  })
    .png({ compressionLevel: 9 })
    .toBuffer();
  const bombBody = JSON.stringify({
    instances: Array.from({ length: 16 }, () => ({ image: bomb.toString('base64') })),
  });
  const jpegs = readdirSync(args.images)
    .filter((f) => f.endsWith('.jpg'))
    .map((f) => readFileSync(path.join(args.images, f)));
  const statuses = new Map<string, number>();
  const count = (key: string) => statuses.set(key, (statuses.get(key) ?? 0) + 1);
  const post = (body: string | Buffer, type: string) =>
    fetch(`${url}/predict`, {
      method: 'POST',
      headers: { 'content-type': type, connection: 'close' },
      body,
    }).then(
      async (r) => {
        await r.arrayBuffer();
        count(String(r.status));
      },
      (err: Error & { cause?: { code?: string } }) => count(err.cause?.code ?? err.message),
    );

  // 1. Bomb mix.
  console.log(
    `bomb: a ${bomb.length}-byte PNG decoding to 6000x6000 RGBA, 16 a request, 4 clients x ${args['bomb-rounds']} requests`,
  );
  let t0 = Date.now();
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let i = 0; i < Number(args['bomb-rounds']); i++) await post(bombBody, 'application/json');
    }),
  );
  const bombPeak = kb(pid, 'VmHWM');
  console.log(
    `bomb: ${((Date.now() - t0) / 1000).toFixed(1)} s, answers ${JSON.stringify(Object.fromEntries(statuses))}`,
  );
  await sleep(Number(args.settle) * 1000);
  const bombSettled = kb(pid, 'VmRSS');
  console.log(`bomb: peak RSS ${mb(bombPeak)} MB, settled RSS ${mb(bombSettled)} MB (after ${args.settle} s idle)`);

  // 2. Overload.
  statuses.clear();
  t0 = Date.now();
  const end = t0 + Number(args.overload) * 1000;
  await Promise.all(
    Array.from({ length: Number(args.clients) }, async (_, c) => {
      for (let i = 0; Date.now() < end; i++) {
        const pick = (c + i) % 10;
        if (pick === 0) await post(bombBody, 'application/json');
        else if (pick < 4)
          await post(
            JSON.stringify({ instances: jpegs.slice(0, pick).map((j) => ({ image: j.toString('base64') })) }),
            'application/json',
          );
        else await post(jpegs[(c + i) % jpegs.length], 'image/jpeg');
      }
    }),
  );
  const overloadPeak = kb(pid, 'VmHWM');
  console.log(
    `overload: ${args.clients} clients for ${((Date.now() - t0) / 1000).toFixed(0)} s, answers ${JSON.stringify(Object.fromEntries(statuses))}`,
  );
  await sleep(Number(args.settle) * 1000);
  const overloadSettled = kb(pid, 'VmRSS');
  clearInterval(sampler);
  console.log(
    `overload: peak RSS ${mb(overloadPeak)} MB (sampled ${mb(peakSampled)} MB), settled RSS ${mb(overloadSettled)} MB`,
  );
  const bound = Number(args['bound-mb']);
  console.log(
    `peak ${mb(Math.max(bombPeak, overloadPeak))} MB against the bound ${bound} MB: ${mb(Math.max(bombPeak, overloadPeak)) <= bound ? 'within' : 'OVER'}; baseline ${mb(baseline)} MB, settled ${mb(overloadSettled)} MB`,
  );
  server.kill('SIGTERM');
}

/** A loopback port free right now. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
