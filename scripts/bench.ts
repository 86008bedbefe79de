/**
 * Benchmarks the serving image's two profiles against a plain server and the bare engine.
 *
 *   npm run bench -- --model path/to/model.onnx --images path/to/jpegs   # 15 s per server and level
 *   npm run bench -- --model path/to/model.onnx --duration 10 --connections 1,16 --slices 2
 *   npm run bench                                   # this project's test data: ../shared/models/yolov8n-int8.onnx
 *   npm run bench -- --providers tensorrt           # on a GPU machine (also: cuda): the bare engine at batch 1 and MAX_BATCH_SIZE
 *
 * Three servers run side by side on loopback ports, each loaded in turn (never two at once):
 * - `plain`: the baseline a user writes first (scripts/lib/plain-server.ts): decode, `session.run`
 *   and NMS on the request path, one request at a time;
 * - `latency` and `throughput`: the serving image (`node serving-image/dist/main.js`, built by
 *   `npm run bench`) with SERVING_PROFILE set, the rest of its configuration its defaults.
 * The bare limit is measured in this process while all three are idle, before and after each
 * server's run: decoding and letterboxing the same images (`prepareImage` + the input tensor fill)
 * and `session.run` on the pre-processed tensors, with the serving image's session options on all
 * cores. autocannon drives each server with the real images as raw JPEG bodies (Vertex
 * rawPredict) while a probe GETs `/health` every 100 ms. Concurrency 1 runs in `--slices`
 * slices, the servers in turn within each slice. It prints one row per concurrency and server,
 * then the issue's three targets: the throughput profile at concurrency 16 against the plain
 * server, the latency profile's concurrency-1 p50 against the bare decode + run, and health p99.
 * Loopback only; about servers x levels x duration plus the bare runs.
 *
 * `--providers` other than `cpu` measures the bare engine on exactly those providers instead
 * (scripts/lib/provider-bench.ts), and exits 1 with the reason when one cannot load.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { KNOWN_EXECUTION_PROVIDERS } from '../serving-image/src/config';
import { sessionOptions } from '../serving-image/src/engine/session-options';
import { modelShape, toTensor } from '../serving-image/src/engine/tensor';
import { prepareImage } from '../serving-image/src/preprocess';
import { providerBench } from './lib/provider-bench';
import { median, percentile, timeRuns } from './lib/timing';

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
    name === 'model' ? 'an ONNX detector (docs/models.md shows how to export one)' : 'a .jpg image or a folder of them';
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
const cores = availableParallelism();

/** The servers compared, in the order each slice loads them. */
const SERVERS = ['plain', 'latency', 'throughput'] as const;
type ServerName = (typeof SERVERS)[number];

/**
 * Largest change of the bare p50 between the measurements before and after a run (as a fraction
 * of their mean) that still lets the run's ratios mean something. These are shared virtual
 * machines: the same session.run has been seen to take 110 ms and 430 ms within half an hour.
 */
const MAX_BARE_DRIFT = 0.15;
/** Milliseconds between health probes during a load run. */
const HEALTH_EVERY_MS = 100;

/** Median ms of `runs` calls of `fn`. */
async function medianMs(runs: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  return median(await timeRuns(runs, fn));
}

/**
 * The bare engine on the same images, one image per call: decoding and letterboxing (the serving
 * image's `prepareImage` and input tensor fill) and `session.run` on all cores.
 */
class BareLimit {
  static async create(model: Buffer, images: Buffer[]): Promise<BareLimit> {
    sharp.concurrency(cores);
    sharp.cache(false);
    const session = await ort.InferenceSession.create(model, {
      ...sessionOptions(cores),
      executionProviders: ['cpu'],
    });
    // The worker's own shape reading and tensor conversion, so the limit measures the same input.
    const { height, width } = modelShape(session);
    const tensors = await Promise.all(
      images.map(async (bytes) => toTensor([await prepareImage(bytes, width, height, 100_000_000)], 1, height, width)),
    );
    const bare = new BareLimit(session, images, tensors, width, height);
    await bare.measure(3); // warm-up
    return bare;
  }

  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly images: Buffer[],
    private readonly tensors: ort.Tensor[],
    private readonly width: number,
    private readonly height: number,
  ) {}

  get inputSize(): string {
    return `${this.width}x${this.height}`;
  }

  /** Median ms of `runs` decodes and of `runs` session.runs, and their sum: one request's bare cost. */
  async measure(runs: number): Promise<{ decode: number; run: number; total: number }> {
    const decode = await medianMs(runs, async (i) =>
      toTensor(
        [await prepareImage(this.images[i % this.images.length], this.width, this.height, 100_000_000)],
        1,
        this.height,
        this.width,
      ),
    );
    const run = await medianMs(runs, (i) =>
      this.session.run({ [this.session.inputNames[0]]: this.tensors[i % this.tensors.length] }),
    );
    return { decode, run, total: decode + run };
  }
}

/** GETs `/health` every {@link HEALTH_EVERY_MS} until stopped; resolves to the latencies in ms. */
function probeHealth(url: string): { stop: () => Promise<number[]> } {
  const times: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      await fetch(`${url}/health`).then(
        (r) => r.arrayBuffer(),
        () => undefined,
      );
      times.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, HEALTH_EVERY_MS));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return times;
    },
  };
}

/**
 * Waits until the server has finished what autocannon left in flight (it stops sending at the
 * deadline but the server still answers the queued requests), so the bare runs have the CPU alone.
 * The plain server's health says how many requests it has not answered yet.
 */
async function waitIdle(server: RunningServer): Promise<void> {
  if (server.name === 'plain') {
    for (let i = 0; i < 600; i++) {
      const { inFlight } = (await fetch(`${server.url}/health`).then((r) => r.json())) as { inFlight: number };
      if (inFlight === 0) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    return;
  }
  const sample = async () => {
    const text = await fetch(`${server.url}/metrics`).then((r) => r.text());
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

interface RunningServer {
  readonly name: ServerName;
  readonly url: string;
  readonly process: ChildProcess;
}

/** Starts one of {@link SERVERS} on a free loopback port and waits until its health answers 200. */
async function startServer(name: ServerName): Promise<RunningServer> {
  const port = await freePort();
  // The profile alone decides the thread layout: the caller's own WORKERS or INTRA_OP_THREADS would blur it.
  const { WORKERS: _w, INTRA_OP_THREADS: _i, SERVING_PROFILE: _p, ...env } = process.env;
  const child =
    name === 'plain'
      ? spawn(
          process.execPath,
          [
            require.resolve('ts-node/dist/bin'),
            '--swc',
            path.join(__dirname, 'lib', 'plain-server.ts'),
            args.model!,
            String(port),
          ],
          { env, stdio: ['ignore', 'ignore', 'inherit'] },
        )
      : spawn(process.execPath, [path.join(root, 'serving-image', 'dist', 'main.js')], {
          env: {
            ...env,
            MODEL_PATH: args.model,
            HOST: '127.0.0.1',
            AIP_HTTP_PORT: String(port),
            EXECUTION_PROVIDERS: 'cpu',
            SERVING_PROFILE: name,
            LOG_LEVEL: 'warn',
          },
          stdio: ['ignore', 'ignore', 'inherit'],
        });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (
      (await fetch(`${url}/health`).then(
        (r) => r.status,
        () => 0,
      )) === 200
    )
      break;
    if (child.exitCode !== null) throw new Error(`the ${name} server exited with code ${child.exitCode}`);
    if (i > 600) throw new Error(`the ${name} server did not become ready within 60 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { name, url, process: child };
}

/** What one server did at one concurrency, over all its slices. */
interface LevelResult {
  p50s: number[];
  p99: number;
  answered: number;
  seconds: number;
  failed: number;
  health: number[];
  /** p50 over the bare decode + run measured around each slice. */
  bareRatios: number[];
}

async function main(): Promise<void> {
  const model = readFileSync(args.model!);
  // A folder's JPEGs, or one image file: the targets are set for one 1280x720 JPEG per request.
  const images = statSync(args.images!).isFile()
    ? [readFileSync(args.images!)]
    : readdirSync(args.images!)
        .filter((f) => f.endsWith('.jpg'))
        .sort()
        .map((f) => readFileSync(path.join(args.images!, f)));
  if (providers.join(',') !== 'cpu') {
    for (const line of await providerBench(model, images, providers, bareRuns)) console.log(line);
    return;
  }
  console.log(
    `model ${path.relative(root, args.model!)}; ${images.length} JPEGs from ${path.relative(root, args.images!)}; ${cores} cores; ${duration} s per server and level`,
  );
  const bare = await BareLimit.create(model, images);
  console.log(
    `bare: decode + letterbox and session.run at ${bare.inputSize}, batch 1, ${bareRuns} runs each, around every server's run`,
  );

  const servers: RunningServer[] = [];
  try {
    for (const name of SERVERS) servers.push(await startServer(name));
    const requests = images.map((body) => ({
      method: 'POST',
      path: '/predict',
      headers: { 'content-type': 'image/jpeg' },
      body,
    }));
    for (const server of servers) {
      await autocannon({ url: server.url, connections: 1, duration: 3, requests }); // warm-up: JIT, allocator, caches
      await waitIdle(server);
    }

    const results = new Map<string, LevelResult>();
    const key = (connections: number, name: ServerName) => `${connections}/${name}`;
    const bareParts = new Map<number, { decode: number[]; run: number[] }>();
    const warnings: string[] = [];
    let before = await bare.measure(bareRuns);
    for (const connections of levels) {
      const levelSlices = connections === 1 ? slices : 1;
      const sliceSeconds = Math.max(1, Math.round(duration / levelSlices));
      const parts = { decode: [before.decode], run: [before.run] };
      let drifted = 0;
      for (let slice = 0; slice < levelSlices; slice++) {
        for (const server of servers) {
          const result = results.get(key(connections, server.name)) ?? {
            p50s: [],
            p99: 0,
            answered: 0,
            seconds: 0,
            failed: 0,
            health: [],
            bareRatios: [],
          };
          results.set(key(connections, server.name), result);
          const health = probeHealth(server.url);
          const r = await autocannon({ url: server.url, connections, duration: sliceSeconds, requests });
          result.health.push(...(await health.stop()));
          await waitIdle(server);
          const after = await bare.measure(bareRuns);
          const around = (before.total + after.total) / 2;
          if (Math.abs(after.total - before.total) / around > MAX_BARE_DRIFT) drifted++;
          result.bareRatios.push(r.latency.p50 / around);
          result.p50s.push(r.latency.p50);
          result.p99 = Math.max(result.p99, r.latency.p99);
          result.answered += r.requests.total;
          result.seconds += r.duration;
          result.failed += r.non2xx + r.errors + r.timeouts;
          parts.decode.push(after.decode);
          parts.run.push(after.run);
          before = after;
        }
      }
      if (drifted > 0) {
        warnings.push(
          `concurrency ${connections}: in ${drifted} of ${levelSlices * servers.length} runs the bare decode + run moved by more than ${100 * MAX_BARE_DRIFT} % (the machine's speed changed under it); those ratios are unreliable`,
        );
      }
      bareParts.set(connections, parts);
    }

    console.log(
      '\n| concurrency | server | req/s | p50 ms | p99 ms | health p99 ms | failed | req/s / plain | p50 / bare | bare decode + run ms |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|');
    const rps = (connections: number, name: ServerName) => {
      const r = results.get(key(connections, name))!;
      return r.answered / r.seconds;
    };
    const healthP99 = new Map<string, number>();
    for (const connections of levels) {
      const parts = bareParts.get(connections)!;
      for (const name of SERVERS) {
        const r = results.get(key(connections, name))!;
        const health = percentile(
          [...r.health].sort((a, b) => a - b),
          99,
        );
        healthP99.set(key(connections, name), health);
        console.log(
          `| ${connections} | ${name} | ${rps(connections, name).toFixed(2)} | ${median(r.p50s)} | ${r.p99} | ${health.toFixed(1)} | ${r.failed} | ${(rps(connections, name) / rps(connections, 'plain')).toFixed(2)} | ${median(r.bareRatios).toFixed(2)} | ${median(parts.decode).toFixed(1)} + ${median(parts.run).toFixed(1)} |`,
        );
      }
    }
    if (levels.includes(1) && slices > 1) {
      console.log(
        `\nconcurrency 1 ran in ${slices} slices, the servers in turn within each: p50 is the median of the slices' p50s, p99 the highest, and p50 / bare the median of the per-slice ratios (each against the bare decode + run measured just before and after it).`,
      );
    }
    console.log('');
    if (levels.includes(16)) {
      console.log(
        `throughput profile at concurrency 16: ${(rps(16, 'throughput') / rps(16, 'plain')).toFixed(2)}x the plain server (target >= 1.3)`,
      );
    }
    if (levels.includes(1)) {
      console.log(
        `latency profile p50 at concurrency 1: ${median(results.get(key(1, 'latency'))!.bareRatios).toFixed(2)}x bare decode + run (target <= 1.1)`,
      );
    }
    for (const name of ['latency', 'throughput'] as const) {
      const worst = Math.max(...levels.map((c) => healthP99.get(key(c, name))!));
      console.log(`${name} profile health p99 under load: ${worst.toFixed(1)} ms at worst (target < 25)`);
    }
    for (const w of warnings) console.log(`warning: ${w}`);
    for (const server of servers.filter((s) => s.name !== 'plain')) {
      console.log(
        `${server.name} server stages, mean over the whole run (from its /metrics): ${await stageMeans(server.url)}`,
      );
    }
  } finally {
    for (const server of servers) server.process.kill('SIGTERM');
  }
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
