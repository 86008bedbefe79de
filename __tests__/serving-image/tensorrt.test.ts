import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { type TensorrtSettings, loadConfig } from '../../serving-image/src/config';
import { prepareTensorrt } from '../../serving-image/src/engine/engine-cache';
import { type Platform, detectPlatform } from '../../serving-image/src/engine/tensorrt';
import { createLogger } from '../../serving-image/src/logger';
import { StorageClient } from '../../serving-image/src/model-source';
import { readOnnxOpTypes } from '../../serving-image/src/onnx-metadata';
import { type FakeGcs, startFakeGcs } from './helpers/fake-gcs';
import { logSink } from './helpers/server';
import { buildTinyModel } from './helpers/tiny-model';

/** A ModelProto whose graph is one node of each of `ops` (protobuf: graph = 7, node = 1, op_type = 4). */
function modelWithOps(ops: string[]): Uint8Array {
  const field = (n: number, payload: Buffer) => Buffer.concat([Buffer.from([(n << 3) | 2, payload.length]), payload]);
  const graph = Buffer.concat(ops.map((op) => field(1, field(4, Buffer.from(op)))));
  return field(7, graph);
}
const FLOAT_MODEL = buildTinyModel({ size: 32 });
const QDQ_MODEL = modelWithOps(['QuantizeLinear', 'DequantizeLinear', 'Conv']);
const L4: Platform = { gpu: 'NVIDIA L4', tensorrt: '10.9.0', onnxruntime: '1.30.0' };

const tempDir = () => mkdtempSync(path.join(tmpdir(), 'ort-trt-'));
const settings = (over: Partial<TensorrtSettings> = {}): TensorrtSettings => ({
  precision: 'fp16',
  cacheDir: tempDir(),
  ...over,
});
/**
 * Stands in for `ort.InferenceSession.create` with the TensorRT provider: it sees the variables the
 * provider would read, and writes engine files into the cache folder as the provider does.
 */
function stubSessionFactory(env: NodeJS.ProcessEnv, engines: Record<string, string> = {}) {
  return () => {
    const seen = Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('ORT_TENSORRT_')));
    for (const [name, bytes] of Object.entries(engines))
      writeFileSync(path.join(env.ORT_TENSORRT_CACHE_PATH!, name), bytes);
    return seen;
  };
}

describe('TensorRT precision reaches the provider as ORT_TENSORRT_* variables', () => {
  test.each([
    ['fp32', FLOAT_MODEL, { ORT_TENSORRT_FP16_ENABLE: '0', ORT_TENSORRT_INT8_ENABLE: '0' }],
    ['fp16', FLOAT_MODEL, { ORT_TENSORRT_FP16_ENABLE: '1', ORT_TENSORRT_INT8_ENABLE: '0' }],
    ['int8', QDQ_MODEL, { ORT_TENSORRT_FP16_ENABLE: '1', ORT_TENSORRT_INT8_ENABLE: '1' }],
  ] as const)(
    '%s: the session created afterwards sees its precision and the cache folder',
    async (precision, model, flags) => {
      // GIVEN an environment like the main thread's and a precision
      const env: NodeJS.ProcessEnv = { PATH: '/bin' };
      const s = settings({ precision });
      // WHEN the provider is prepared, then a session is created
      await prepareTensorrt(s, model, new StorageClient('127.0.0.1:1'), createLogger('silent'), env, L4);
      const seen = stubSessionFactory(env)();
      // THEN the session sees the precision's flags, the engine and timing caches, and the folder
      expect(seen).toEqual({
        ...flags,
        ORT_TENSORRT_ENGINE_CACHE_ENABLE: '1',
        ORT_TENSORRT_TIMING_CACHE_ENABLE: '1',
        ORT_TENSORRT_CACHE_PATH: s.cacheDir,
      });
    },
  );

  test('int8 with a model that has no QDQ nodes is refused before any session, naming the fix', async () => {
    // GIVEN a float model (the shipped detectors' dynamic int8 has no DequantizeLinear either)
    const env: NodeJS.ProcessEnv = {};
    // WHEN the provider is prepared for int8
    const prepared = prepareTensorrt(
      settings({ precision: 'int8' }),
      FLOAT_MODEL,
      new StorageClient('x:1'),
      createLogger('silent'),
      env,
      L4,
    );
    // THEN it fails with what int8 needs, and sets nothing
    await expect(prepared).rejects.toThrow(/TENSORRT_PRECISION=int8 needs a QDQ-quantized model .* Use fp16/);
    expect(env).toEqual({});
  });

  test("the model's operator types are read from its graph", () => {
    // GIVEN the tiny float model and a QDQ one WHEN their operators are read THEN each has its own
    expect([...readOnnxOpTypes(FLOAT_MODEL)]).toEqual(expect.arrayContaining(['ReduceMean', 'MatMul']));
    expect(readOnnxOpTypes(QDQ_MODEL).has('DequantizeLinear')).toBe(true);
  });

  test('on a machine without an NVIDIA GPU or TensorRT, the platform says so (and no cache is keyed on it)', () => {
    // GIVEN this machine WHEN its platform is read THEN the GPU and TensorRT are unknown, onnxruntime known
    expect(detectPlatform({})).toEqual({ gpu: undefined, tensorrt: undefined, onnxruntime: '1.30.0' });
  });
});

describe('TENSORRT_* settings', () => {
  test('defaults: FP16, engines in /tmp/ort-trt, no shared cache', () => {
    // GIVEN only a model WHEN loaded THEN the TensorRT defaults apply
    expect(loadConfig({ MODEL_PATH: 'm.onnx' }).tensorrt).toEqual({ precision: 'fp16', cacheDir: '/tmp/ort-trt' });
  });

  test('TENSORRT_CACHE_URI gets one trailing slash', () => {
    // GIVEN a cache folder without a slash WHEN loaded THEN it is a folder
    expect(
      loadConfig({ MODEL_PATH: 'm.onnx', TENSORRT_CACHE_URI: 'gs://b/models/yolo/1/tensorrt-cache' }).tensorrt.cacheUri,
    ).toBe('gs://b/models/yolo/1/tensorrt-cache/');
  });

  test.each([
    [{ TENSORRT_PRECISION: 'bf16' }, /TENSORRT_PRECISION="bf16": must be one of fp32, fp16, int8/],
    [{ TENSORRT_CACHE_URI: '/tmp/cache' }, /TENSORRT_CACHE_URI="\/tmp\/cache": must be a gs:\/\/ folder/],
    [
      { ORT_TENSORRT_FP16_ENABLE: '1' },
      /ORT_TENSORRT_FP16_ENABLE="1": the server sets it from TENSORRT_PRECISION and TENSORRT_CACHE_DIR; remove it/,
    ],
    [{ ORT_TENSORRT_CACHE_PATH: '/tmp/x' }, /ORT_TENSORRT_CACHE_PATH="\/tmp\/x": the server sets it/],
  ])('%j is refused, naming the variable and what to do', (env, message) => {
    // GIVEN a bad TensorRT setting WHEN the configuration is loaded THEN it is refused with its fix
    expect(() => loadConfig({ MODEL_PATH: 'm.onnx', ...env })).toThrow(message);
  });
});

describe('engine cache shared through Cloud Storage (loopback fake via STORAGE_EMULATOR_HOST)', () => {
  const CACHE = 'gs://artifacts/models/yolo/1/tensorrt-cache/';
  const ENGINES = {
    'TensorrtExecutionProvider_TRTKernel_graph_main_1234_0_0_fp16_sm89.engine': 'engine bytes',
    'TensorrtExecutionProvider_TRTKernel_graph_main_1234_0_0_fp16_sm89.profile': 'profile bytes',
  };
  let gcs: FakeGcs;
  let objects: Record<string, Uint8Array | string>;
  beforeEach(async () => {
    objects = {};
    gcs = await startFakeGcs(objects);
  });
  afterEach(() => gcs.close());

  /** One replica's start: prepare, create the (stub) sessions, then what follows the warm-up. */
  async function replica(
    options: { platform?: Platform; engines?: Record<string, string>; provider?: string; gcsHost?: string } = {},
  ) {
    const { stream, logs } = logSink();
    const env: NodeJS.ProcessEnv = {};
    const s = settings({ cacheUri: CACHE });
    const prepared = await prepareTensorrt(
      s,
      FLOAT_MODEL,
      new StorageClient(options.gcsHost ?? gcs.host, { write: true }),
      createLogger('info', stream),
      env,
      options.platform ?? L4,
    );
    stubSessionFactory(env, options.engines ?? ENGINES)();
    await prepared.afterWarmUp(options.provider ?? 'tensorrt');
    return { restored: prepared.restored, cacheDir: s.cacheDir, logs };
  }
  const cachedNames = () => Object.keys(objects).filter((k) => k.startsWith('artifacts/models/yolo/1/tensorrt-cache/'));
  const warnings = (logs: Record<string, unknown>[]) => logs.filter((l) => l.severity === 'WARNING');

  test('the first replica finds no cache, builds, and uploads its engines and then a manifest', async () => {
    // GIVEN an empty cache WHEN a replica starts and warms up on TensorRT
    const first = await replica();
    // THEN it built (absent) and uploaded both files and a manifest under one key folder
    expect(first.restored).toBe('absent');
    const names = cachedNames();
    expect(names).toHaveLength(3);
    const manifestKey = names.find((n) => n.endsWith('/manifest.json'))!;
    const manifest = JSON.parse(objects[manifestKey].toString());
    expect(manifest.identity).toMatchObject({
      precision: 'fp16',
      gpu: 'NVIDIA L4',
      tensorrt: '10.9.0',
      onnxruntime: '1.30.0',
    });
    expect(manifest.identity.modelSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(manifest.files.map((f: { name: string }) => f.name).sort()).toEqual(Object.keys(ENGINES).sort());
    expect(warnings(first.logs)).toEqual([]);
  });

  test('a later replica downloads the engines before its sessions are created, and uploads nothing', async () => {
    // GIVEN a cache the first replica filled
    await replica();
    const before = cachedNames();
    // WHEN a second replica (another machine of the same type) starts; its provider would write nothing new
    const second = await replica({ engines: {} });
    // THEN its cache folder holds the first replica's engines, byte for byte, and nothing was uploaded
    expect(second.restored).toBe('restored');
    expect(readdirSync(second.cacheDir).sort()).toEqual(Object.keys(ENGINES).sort());
    expect(readFileSync(path.join(second.cacheDir, Object.keys(ENGINES)[0]), 'utf8')).toBe('engine bytes');
    expect(cachedNames()).toEqual(before);
  });

  test('a cache built for another GPU is not loaded: that replica builds and keeps its own key', async () => {
    // GIVEN engines cached on an L4
    await replica();
    // WHEN a replica on a T4 starts
    const t4 = await replica({ platform: { ...L4, gpu: 'Tesla T4' }, engines: {} });
    // THEN nothing was downloaded into its folder: a different identity is a different key, so it is absent
    expect(t4.restored).toBe('absent');
    expect(readdirSync(t4.cacheDir)).toEqual([]);
  });

  test('a manifest whose identity differs from its key folder is ignored, never loaded', async () => {
    // GIVEN a filled cache whose manifest was changed to name another TensorRT version
    await replica();
    const manifestKey = cachedNames().find((n) => n.endsWith('/manifest.json'))!;
    const manifest = JSON.parse(objects[manifestKey].toString());
    objects[manifestKey] = JSON.stringify({ ...manifest, identity: { ...manifest.identity, tensorrt: '10.3.0' } });
    // WHEN a replica starts
    const next = await replica({ engines: {} });
    // THEN it ignores the cache with a warning naming the field, and loads nothing
    expect(next.restored).toBe('mismatch');
    expect(readdirSync(next.cacheDir)).toEqual([]);
    expect(warnings(next.logs)[0]).toMatchObject({ differing: ['tensorrt'] });
  });

  test.each([
    ['null', 'null'],
    ['without files', '{"identity":{}}'],
  ])('a manifest that is %s is ignored with a warning', async (_case, text) => {
    // GIVEN a filled cache whose manifest was replaced
    await replica();
    const manifestKey = cachedNames().find((n) => n.endsWith('/manifest.json'))!;
    objects[manifestKey] = text;
    // WHEN a replica starts THEN it loads nothing and warns
    const next = await replica({ engines: {} });
    expect(next.restored).toBe('mismatch');
    expect(readdirSync(next.cacheDir)).toEqual([]);
    expect(warnings(next.logs)).toHaveLength(2); // this one, and the provider writing no engine
  });

  test('a cached file that does not match the manifest makes the whole cache ignored', async () => {
    // GIVEN a filled cache with one engine file altered
    await replica();
    const engineKey = cachedNames().find((n) => n.endsWith('.engine'))!;
    objects[engineKey] = 'tampered';
    // WHEN a replica starts
    const next = await replica({ engines: {} });
    // THEN nothing is written to its folder, and a warning says why
    expect(next.restored).toBe('corrupt');
    expect(readdirSync(next.cacheDir)).toEqual([]);
    expect(warnings(next.logs)[0].reason).toMatch(/does not match its size and sha256/);
  });

  test('a failed upload is a WARNING and the replica goes on', async () => {
    // GIVEN Cloud Storage refusing uploads (no create permission)
    const refusing = await startFakeGcs({}, { uploadStatus: 403 });
    try {
      // WHEN a replica builds its engines
      const r = await replica({ gcsHost: refusing.host });
      // THEN afterWarmUp resolved, with one warning carrying the status
      expect(warnings(r.logs)).toHaveLength(1);
      expect(warnings(r.logs)[0].reason).toMatch(/cannot write .* 403/);
    } finally {
      await refusing.close();
    }
  });

  test('when two replicas built at once, the later upload leaves the first manifest as it is', async () => {
    // GIVEN a replica that found no cache and is building
    const { stream, logs } = logSink();
    const env: NodeJS.ProcessEnv = {};
    const storage = new StorageClient(gcs.host, { write: true });
    const racing = await prepareTensorrt(
      settings({ cacheUri: CACHE }),
      FLOAT_MODEL,
      storage,
      createLogger('info', stream),
      env,
      L4,
    );
    // AND another replica that saved its engines meanwhile
    await replica();
    const manifestKey = cachedNames().find((n) => n.endsWith('/manifest.json'))!;
    const manifest = objects[manifestKey];
    // WHEN the first one finishes its build and saves
    stubSessionFactory(env, ENGINES)();
    await racing.afterWarmUp('tensorrt');
    // THEN the manifest is the one saved first, and the later replica says so at INFO
    expect(objects[manifestKey]).toBe(manifest);
    expect(logs.map((l) => [l.severity, l.message])).toContainEqual([
      'INFO',
      'another replica saved these TensorRT engines first',
    ]);
  });

  test('a replica that fell back from TensorRT uploads nothing', async () => {
    // GIVEN an empty cache WHEN the sessions run on CUDA (TensorRT failed to load)
    await replica({ provider: 'cuda' });
    // THEN nothing was uploaded
    expect(cachedNames()).toEqual([]);
  });

  test('a provider that wrote no engine is reported: the variables were not honoured', async () => {
    // GIVEN a TensorRT provider that ignored ORT_TENSORRT_ENGINE_CACHE_ENABLE WHEN the replica warms up
    const r = await replica({ engines: {} });
    // THEN a warning says so and links the onnxruntime issue, and nothing is uploaded
    expect(warnings(r.logs)[0].message).toMatch(/wrote no engine .*onnxruntime\/issues\/18380/);
    expect(cachedNames()).toEqual([]);
  });

  test('without a known GPU or TensorRT version the cache is neither read nor written', async () => {
    // GIVEN a machine whose GPU cannot be read WHEN a replica starts and builds
    const r = await replica({ platform: { ...L4, gpu: undefined } });
    // THEN a warning names what is unknown, and Cloud Storage was never asked
    expect(warnings(r.logs)[0]).toMatchObject({ unknown: ['gpu'] });
    expect(gcs.requests).toEqual([]);
  });
});
