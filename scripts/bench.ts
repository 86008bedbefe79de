/**
 * Benchmarks the serving image against the limit of its own engine.
 *
 *   npm run bench -- --model path/to/model.onnx --images path/to/jpegs   # 15 s per level
 *   npm run bench -- --model path/to/model.onnx --duration 10 --connections 1,4,16 --slices 2
 *   npm run bench                                   # this project's test data: ../shared/models/yolov8n-int8.onnx
 *   npm run bench -- --providers tensorrt           # on a GPU machine (also: cuda); never falls back to the CPU
 *
 * 1. The limit: the model's bare `session.run` in this process, on tensors pre-processed from the
 *    same images, with the server's session options and intra-op threads, measured while the
 *    server is idle: before each level and after it (concurrency 1: after each of its slices).
 * 2. The server (`node serving-image/dist/main.js`, built by `npm run bench`) on a loopback port,
 *    driven with autocannon over HTTP with the real images as raw JPEG bodies (Vertex rawPredict),
 *    at each concurrency after a warm-up; concurrency 1 in `--slices` slices.
 * It prints one row per concurrency: requests per second, p50/p99 latency and the ratios to the
 * limit. Loopback only; bounded in time (about 3 x duration + 7 x 20 bare runs + 30 s).
 *
 * `--providers` runs both the bare session and the server on those execution providers only (the
 * server's EXECUTION_PROVIDERS), and with a GPU provider first also prints the bare img/s and
 * latency at batch 1 and at the server's largest batch (MAX_BATCH_SIZE) when the model's batch
 * is dynamic. A provider that cannot load ends the run with its reason (exit 1), never on the CPU.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { KNOWN_EXECUTION_PROVIDERS, loadConfig } from '../serving-image/src/config';
import { sessionOptions } from '../serving-image/src/engine/session-options';
import { applyTensorrtEnvironment } from '../serving-image/src/engine/tensorrt';
import { modelShape, toTensor } from '../serving-image/src/engine/tensor';
import { prepareImage } from '../serving-image/src/preprocess';

/** The part of autocannon's API used here (it ships no types). */
interface AutocannonResult {
  /** Seconds it ran. */
  duration: number;
  requests: { total: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}
type Autocannon = (opts: {
  url: string;
  connections: number;
  duration: number;
  requests: { method: string; path: string; headers: Record<string, string>; body: Buffer }[];
}) => Promise<AutocannonResult>;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon: Autocannon = require('autocannon');

const root = path.resolve(__dirname, '..');
/** The defaults are this project's test data beside the checkout, which users do not have. */
const DEFAULTS = {
  model: path.resolve(root, '..', 'shared', 'models', 'yolov8n-int8.onnx'),
  images: path.resolve(root, '..', 'shared', 'images'),
};
const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: DEFAULTS.model },
    images: { type: 'string', default: DEFAULTS.images },
    duration: { type: 'string', default: '15' },
    connections: { type: 'string', default: '1,4,16' },
    'bare-runs': { type: 'string', default: '20' },
    slices: { type: 'string', default: '3' },
    providers: { type: 'string', default: 'cpu' },
  },
});
/** A whole number of at least 1 from option `name`, or exit naming it. */
function count(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`--${name} must be a whole number of at least 1, got ${JSON.stringify(value)}`);
    process.exit(2);
  }
  return n;
}
/** Option `name`'s path when it exists, or exit saying what to pass. */
function existing(name: keyof typeof DEFAULTS, value: string): string {
  if (existsSync(value)) return value;
  const what =
    name === 'model' ? 'an ONNX detector (docs/models.md shows how to export one)' : 'a folder of .jpg images';
  const defaulted = value === DEFAULTS[name] ? " (the default is this project's test data, absent here)" : '';
  console.error(`--${name} ${value} does not exist${defaulted}: pass --${name} with ${what}`);
  process.exit(2);
}
const duration = count('duration', args.duration!);
const slices = count('slices', args.slices!);
const bareRuns = count('bare-runs', args['bare-runs']!);
const levels = args.connections!.split(',').map((c) => count('connections', c));
const providers = args.providers!.split(',').map((p) => p.trim());
if (providers.some((p) => !(KNOWN_EXECUTION_PROVIDERS as readonly string[]).includes(p))) {
  console.error(
    `--providers must be a comma-separated list of ${KNOWN_EXECUTION_PROVIDERS.join(', ')}, got ${JSON.stringify(args.providers)}`,
  );
  process.exit(2);
}
existing('model', args.model!);
existing('images', args.images!);
// The server's own defaults (or INTRA_OP_THREADS / WORKERS / MAX_BATCH_SIZE from the environment), so the bare run uses the same.
const { intraOpThreads, maxBatchSize, tensorrt } = loadConfig({
  ...process.env,
  MODEL_PATH: args.model,
  EXECUTION_PROVIDERS: providers.join(','),
});
// The bare session gets the server's TensorRT precision and cache folder (TENSORRT_* from the
// environment) in this process's environment; the server, which refuses them, sets its own.
const serverEnv = { ...process.env };
if (providers.includes('tensorrt')) applyTensorrtEnvironment(tensorrt, process.env);
/** A GPU provider first: engines are built at the server's start, and batches are measured. */
const onGpu = providers[0] !== 'cpu';

/**
 * Largest change of the bare p50 between the measurements before and after a slice (as a fraction
 * of their mean) that still lets the slice's ratios mean something. These are shared virtual
 * machines: the same session.run has been seen to take 110 ms and 430 ms within half an hour.
 */
const MAX_BARE_DRIFT = 0.15;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Bare `session.run` on tensors pre-processed from the images, one image per call: the limit. */
class BareLimit {
  static async create(model: Buffer, images: Buffer[]): Promise<BareLimit> {
    let session: ort.InferenceSession;
    try {
      // Exactly the providers asked for: onnxruntime-node fails rather than run elsewhere. Its own
      // coloured log line would repeat the reason this script prints (as in the worker).
      ort.env.logLevel = 'fatal';
      session = await ort.InferenceSession.create(model, {
        ...sessionOptions(intraOpThreads),
        executionProviders: providers,
      });
    } catch (err) {
      throw new Error(
        `--providers ${providers.join(',')}: the model cannot run on ${providers.join(' or ')} here: ${(err as Error).message}. GPU providers need an NVIDIA GPU and onnxruntime-node's CUDA 12 libraries (installed with ONNXRUNTIME_NODE_INSTALL=cuda12, as the GPU serving image does) and, for tensorrt, TensorRT 10; this benchmark never falls back to the CPU`,
      );
    }
    // The worker's own shape reading and tensor conversion, so the limit measures the same input.
    const { height, width, batch } = modelShape(session);
    const prepared = await Promise.all(images.map((bytes) => prepareImage(bytes, width, height, 100_000_000)));
    const tensors = prepared.map((image) => toTensor([image], 1, height, width));
    const bare = new BareLimit(session, tensors, `${width}x${height}`);
    bare.batched =
      batch === null && maxBatchSize > 1 && prepared.length > 0
        ? toTensor(
            Array.from({ length: maxBatchSize }, (_, i) => prepared[i % prepared.length]),
            maxBatchSize,
            height,
            width,
          )
        : undefined;
    await bare.measure(3); // warm-up
    return bare;
  }

  /** The first images as one batch of MAX_BATCH_SIZE, when the model's batch dimension is dynamic. */
  private batched?: ort.Tensor;

  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly tensors: ort.Tensor[],
    readonly inputSize: string,
  ) {}

  /** img/s and latency of `runs` calls at batch 1 and at MAX_BATCH_SIZE (dynamic batch only), one line each. */
  async batchLines(runs: number): Promise<string[]> {
    const line = (size: number, t: { p50: number; p99: number }) =>
      `batch ${size}: ${((1000 * size) / t.p50).toFixed(1)} img/s, p50 ${t.p50.toFixed(2)} ms, p99 ${t.p99.toFixed(2)} ms`;
    const lines = [line(1, await this.measure(runs))];
    if (this.batched) {
      await this.measure(3, this.batched); // warm-up: TensorRT builds an engine for the new shape
      lines.push(line(maxBatchSize, await this.measure(runs, this.batched)));
    } else lines.push(`batch ${maxBatchSize}: not measured, the model's batch dimension is fixed`);
    return lines;
  }

  /** Median and p99 of `runs` calls, in ms, on the images one at a time or on `input`. */
  async measure(runs: number, input?: ort.Tensor): Promise<{ p50: number; p99: number }> {
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await this.session.run({ [this.session.inputNames[0]]: input ?? this.tensors[i % this.tensors.length] });
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    return { p50: median(times), p99: percentile(times, 99) };
  }
}

/**
 * Waits until the server has finished what autocannon left in flight (it stops sending at the
 * deadline but the server still answers the queued requests), so the bare runs have the CPU alone.
 */
async function waitIdle(url: string): Promise<void> {
  const sample = async () => {
    const text = await fetch(`${url}/metrics`).then((r) => r.text());
    const value = (name: string) =>
      Number(/^(\S+) (\S+)$/m.exec(text.split('\n').find((l) => l.startsWith(`${name} `)) ?? '')?.[2] ?? NaN);
    return `${value('serving_images_total')}/${value('serving_queue_depth')}`;
  };
  let last = await sample();
  for (let i = 0; i < 600; i++) {
    await new Promise((r) => setTimeout(r, 500));
    const now = await sample();
    if (now === last && now.endsWith('/0')) return;
    last = now;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Mean milliseconds of each pipeline stage, from the server's own histograms: where the time beyond session.run goes. */
async function stageMeans(url: string): Promise<string> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const sample = (name: string) => Number(text.match(new RegExp(`^${name} (\\S+)$`, 'm'))?.[1] ?? NaN);
  return ['queue_wait', 'preprocess', 'input', 'inference', 'postprocess']
    .map(
      (stage) =>
        `${stage} ${((1000 * sample(`serving_${stage}_seconds_sum`)) / sample(`serving_${stage}_seconds_count`)).toFixed(1)} ms`,
    )
    .join(', ');
}

async function main(): Promise<void> {
  const model = readFileSync(args.model!);
  const imageFiles = readdirSync(args.images!)
    .filter((f) => f.endsWith('.jpg'))
    .sort();
  const images = imageFiles.map((f) => readFileSync(path.join(args.images!, f)));
  console.log(
    `model ${path.relative(root, args.model!)}; ${images.length} JPEGs from ${path.relative(root, args.images!)}; ${intraOpThreads} intra-op threads; ${duration} s per level`,
  );

  // Concurrency 1 runs in slices, and the limit is measured before the first slice and after each
  // one, with the server idle. Each slice's p50 is compared with the mean of the two measurements
  // around it and the level reports the median of those ratios: these machines are noisy, so only
  // ratios measured close together mean anything. Higher levels run whole, the limit measured
  // before and after: a slice would start with an empty queue and end with requests in flight,
  // which lowers both their latency and their throughput.
  const bare = await BareLimit.create(model, images);
  if (onGpu) {
    console.log(`bare session.run on ${providers.join(',')}, ${bare.inputSize}, median of ${bareRuns} runs:`);
    for (const line of await bare.batchLines(bareRuns)) console.log(`  ${line}`);
  }
  console.log(
    `bare session.run: ${bare.inputSize}, batch 1, ${bareRuns} runs before each level and after it (concurrency 1: after each of ${slices} slices)`,
  );

  const port = await freePort();
  const server = spawn(process.execPath, [path.join(root, 'serving-image', 'dist', 'main.js')], {
    env: {
      ...serverEnv,
      MODEL_PATH: args.model,
      HOST: '127.0.0.1',
      AIP_HTTP_PORT: String(port),
      EXECUTION_PROVIDERS: providers.join(','),
      INTRA_OP_THREADS: String(intraOpThreads),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; ; i++) {
      if (
        (await fetch(`${url}/health`).then(
          (r) => r.status,
          () => 0,
        )) === 200
      )
        break;
      // TensorRT builds its engines before the server turns ready: minutes, not seconds.
      if (i > (onGpu ? 18_000 : 600))
        throw new Error(`the server did not become ready within ${onGpu ? '30 min' : '60 s'}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const requests = images.map((body) => ({
      method: 'POST',
      path: '/predict',
      headers: { 'content-type': 'image/jpeg' },
      body,
    }));
    await autocannon({ url, connections: 1, duration: 3, requests }); // warm-up: JIT, allocator, caches
    await waitIdle(url);

    const rows: string[] = [];
    const warnings: string[] = [];
    const ratios = new Map<number, { rps: number; p50: number }>();
    let before = await bare.measure(bareRuns);
    for (const connections of levels) {
      const bareP50s = [before.p50];
      const p50Ratios: number[] = [];
      const p50s: number[] = [];
      let p99 = 0;
      let answered = 0;
      let seconds = 0;
      let failed = 0;
      let drifted = 0;
      const levelSlices = connections === 1 ? slices : 1;
      const sliceSeconds = Math.max(1, Math.round(duration / levelSlices));
      for (let slice = 0; slice < levelSlices; slice++) {
        const r = await autocannon({ url, connections, duration: sliceSeconds, requests });
        await waitIdle(url);
        const after = await bare.measure(bareRuns);
        const around = (before.p50 + after.p50) / 2;
        if (Math.abs(after.p50 - before.p50) / around > MAX_BARE_DRIFT) drifted++;
        p50Ratios.push(r.latency.p50 / around);
        p50s.push(r.latency.p50);
        p99 = Math.max(p99, r.latency.p99);
        answered += r.requests.total;
        seconds += r.duration;
        failed += r.non2xx + r.errors + r.timeouts;
        bareP50s.push(after.p50);
        before = after;
      }
      if (drifted > 0) {
        warnings.push(
          `concurrency ${connections}: in ${drifted} of ${levelSlices} slices the bare p50 moved by more than ${100 * MAX_BARE_DRIFT} % (the machine's speed changed under it); those ratios are unreliable`,
        );
      }
      const bareP50 = median(bareP50s);
      const bareRps = 1000 / bareP50;
      const rps = answered / seconds;
      const p50Ratio = median(p50Ratios);
      ratios.set(connections, { rps: rps / bareRps, p50: p50Ratio });
      rows.push(
        `| ${connections} | ${rps.toFixed(2)} | ${median(p50s)} | ${p99} | ${bareP50.toFixed(1)} | ${bareRps.toFixed(2)} | ${(rps / bareRps).toFixed(2)} | ${p50Ratio.toFixed(2)} | ${failed} |`,
      );
    }
    console.log(
      '\n| concurrency | req/s | p50 ms | p99 ms | bare p50 ms | bare limit img/s | req/s / limit | p50 / bare p50 | failed |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|');
    for (const row of rows) console.log(row);
    if (levels.includes(1) && slices > 1) {
      console.log(
        `\nconcurrency 1 ran in ${slices} slices: its p50 is the median of the slices' p50s, its p99 the highest slice p99, its bare p50 the median of the ${slices + 1} limit measurements, and its p50 / bare p50 the median of the per-slice ratios (each slice against the limit measured just before and after it), so it need not equal p50 divided by bare p50.`,
      );
    }
    console.log('');
    const c16 = ratios.get(16);
    const c1 = ratios.get(1);
    if (c16) console.log(`throughput at concurrency 16: ${c16.rps.toFixed(2)}x the bare limit (target >= 0.80)`);
    if (c1) console.log(`p50 latency at concurrency 1: ${c1.p50.toFixed(2)}x bare (target <= 1.15)`);
    for (const w of warnings) console.log(`warning: ${w}`);
    console.log(`server stages, mean over the whole run (from its /metrics): ${await stageMeans(url)}`);
  } finally {
    server.kill('SIGTERM');
  }
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
