import { availableParallelism, hostname } from 'node:os';
import { ConfigError, loadConfig } from '../../serving-image/src/config';

describe('loadConfig', () => {
  test('defaults: Vertex port 8080 on every interface, local routes, TensorRT then CUDA then CPU', () => {
    // GIVEN only a model WHEN loaded THEN every documented default applies
    const c = loadConfig({ MODEL_PATH: 'model.onnx' });
    expect(c).toMatchObject({
      host: '0.0.0.0',
      port: 8080,
      healthRoute: '/health',
      predictRoute: '/predict',
      model: { kind: 'file', uri: 'model.onnx' },
      executionProviders: ['tensorrt', 'cuda', 'cpu'],
      workers: 1,
      intraOpThreads: availableParallelism(),
      imageThreads: availableParallelism(),
      maxInstances: 16,
      maxRequestBytes: 10 * 1024 * 1024,
      maxImagePixels: 40_000_000,
      maxBatchSize: 8,
      maxQueueDelayMs: 5,
      maxQueueSize: 64,
      gpuCount: 1,
      workerMaxRestarts: 5,
      requestTimeoutMs: 30_000,
      shutdownTimeoutMs: 25_000,
      metricsPort: undefined,
      logLevel: 'info',
    });
  });

  test('IMAGE_THREADS sets the decoding threads, 1 to 256', () => {
    expect(loadConfig({ MODEL_PATH: 'm.onnx', IMAGE_THREADS: '1' }).imageThreads).toBe(1);
    expect(() => loadConfig({ MODEL_PATH: 'm.onnx', IMAGE_THREADS: '0' })).toThrow(
      /IMAGE_THREADS="0": must be an integer from 1 to 256/,
    );
  });

  test('AIP_STORAGE_URI is the model folder when MODEL_PATH is unset', () => {
    expect(loadConfig({ AIP_STORAGE_URI: 'gs://bucket/model' }).model).toEqual({
      kind: 'folder',
      uri: 'gs://bucket/model',
    });
  });

  test('several workers share the cores between their intra-op pools', () => {
    expect(loadConfig({ MODEL_PATH: 'm.onnx', WORKERS: String(availableParallelism()) }).intraOpThreads).toBe(1);
  });

  test('collects every problem, naming the variable, the value and what is allowed', () => {
    // GIVEN several bad variables WHEN loaded THEN one error lists them all
    const load = () =>
      loadConfig({
        AIP_STORAGE_URI: 's3://x',
        AIP_HEALTH_ROUTE: 'health',
        MAX_BATCH_SIZE: '0',
        LOG_LEVEL: 'loud',
        METRICS_PORT: '8080',
      });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(/AIP_HEALTH_ROUTE="health": must be a URL path starting with "\/"/);
    expect(load).toThrow(/AIP_STORAGE_URI="s3:\/\/x": must be a gs:\/\/ URI/);
    expect(load).toThrow(/MAX_BATCH_SIZE="0": must be an integer from 1 to 256/);
    expect(load).toThrow(/LOG_LEVEL="loud": must be one of/);
    expect(load).toThrow(/METRICS_PORT=8080: equals AIP_HTTP_PORT/);
  });

  test('MAX_INSTANCES larger than MAX_QUEUE_SIZE is refused, naming both', () => {
    // GIVEN a queue smaller than the largest request WHEN loaded THEN the request could never fit: refused
    expect(() => loadConfig({ MODEL_PATH: 'm.onnx', MAX_QUEUE_SIZE: '8' })).toThrow(
      /MAX_INSTANCES=16 is larger than MAX_QUEUE_SIZE=8/,
    );
    // AND equal sizes are fine
    expect(loadConfig({ MODEL_PATH: 'm.onnx', MAX_QUEUE_SIZE: '8', MAX_INSTANCES: '8' }).maxQueueSize).toBe(8);
  });

  describe('SERVING_PROFILE', () => {
    const cores = availableParallelism();

    test('throughput on CPU serving: one single-threaded worker per core', () => {
      // GIVEN CPU serving with the throughput profile WHEN loaded THEN each core runs its own image
      const c = loadConfig({ MODEL_PATH: 'm.onnx', EXECUTION_PROVIDERS: 'cpu', SERVING_PROFILE: 'throughput' });
      expect(c).toMatchObject({ profile: 'throughput', workers: Math.min(cores, 16), intraOpThreads: 1 });
    });

    test('latency (the default) on CPU serving: one worker on every core', () => {
      const c = loadConfig({ MODEL_PATH: 'm.onnx', EXECUTION_PROVIDERS: 'cpu' });
      expect(c).toMatchObject({ profile: 'latency', workers: 1, intraOpThreads: cores });
    });

    test('GPU serving (a GPU present, a GPU provider first): one worker per GPU in either profile', () => {
      // GIVEN two visible GPUs WHEN loaded with the throughput profile THEN the GPU layout applies
      const c = loadConfig({ MODEL_PATH: 'm.onnx', CUDA_VISIBLE_DEVICES: '0,1', SERVING_PROFILE: 'throughput' }, true);
      expect(c).toMatchObject({ workers: 2, intraOpThreads: Math.max(1, Math.floor(cores / 2)) });
    });

    test('without a GPU the default provider list still gets the CPU layout', () => {
      // GIVEN a CPU machine and the default providers (TensorRT and CUDA first) WHEN loaded with the throughput profile
      const c = loadConfig({ MODEL_PATH: 'm.onnx', SERVING_PROFILE: 'throughput' }, false);
      // THEN it serves on the CPU's layout, with the lone-image session where that adds cores
      expect(c).toMatchObject({ workers: Math.min(cores, 16), loneImageThreads: cores > 1 ? cores : undefined });
    });

    test('WORKERS and INTRA_OP_THREADS win over the profile', () => {
      const c = loadConfig({
        MODEL_PATH: 'm.onnx',
        EXECUTION_PROVIDERS: 'cpu',
        SERVING_PROFILE: 'throughput',
        WORKERS: '3',
        INTRA_OP_THREADS: '2',
      });
      expect(c).toMatchObject({ workers: 3, intraOpThreads: 2 });
    });

    test('throughput on CPU gives the first worker a lone-image session on every core, where that adds cores', () => {
      // GIVEN the throughput profile on CPU WHEN loaded THEN a lone image may use all cores (none on a 1-core machine)
      const c = loadConfig({ MODEL_PATH: 'm.onnx', EXECUTION_PROVIDERS: 'cpu', SERVING_PROFILE: 'throughput' });
      expect(c.loneImageThreads).toBe(cores > 1 ? cores : undefined);
      // AND the latency profile, whose one worker already has every core, has none
      expect(loadConfig({ MODEL_PATH: 'm.onnx', EXECUTION_PROVIDERS: 'cpu' }).loneImageThreads).toBeUndefined();
      // AND LONE_IMAGE_THREADS=0 turns it off
      expect(
        loadConfig({
          MODEL_PATH: 'm.onnx',
          EXECUTION_PROVIDERS: 'cpu',
          SERVING_PROFILE: 'throughput',
          LONE_IMAGE_THREADS: '0',
        }).loneImageThreads,
      ).toBeUndefined();
    });

    test('LONE_IMAGE_THREADS out of range is refused, naming the bounds', () => {
      expect(() => loadConfig({ MODEL_PATH: 'm.onnx', LONE_IMAGE_THREADS: '-1' })).toThrow(
        /LONE_IMAGE_THREADS="-1": must be an integer from 0 to 256/,
      );
    });

    test('an unknown profile is refused, naming the allowed ones', () => {
      expect(() => loadConfig({ MODEL_PATH: 'm.onnx', SERVING_PROFILE: 'fast' })).toThrow(
        /SERVING_PROFILE="fast": must be one of latency, throughput/,
      );
    });
  });

  test('WORKER_NICE lowers the inference threads by 10 by default, 0 to 19', () => {
    expect(loadConfig({ MODEL_PATH: 'm.onnx' }).workerNice).toBe(10);
    expect(loadConfig({ MODEL_PATH: 'm.onnx', WORKER_NICE: '0' }).workerNice).toBe(0);
    expect(() => loadConfig({ MODEL_PATH: 'm.onnx', WORKER_NICE: '20' })).toThrow(
      /WORKER_NICE="20": must be an integer from 0 to 19/,
    );
  });

  test('GPU_COUNT defaults to the GPUs in CUDA_VISIBLE_DEVICES, else 1', () => {
    expect(loadConfig({ MODEL_PATH: 'm.onnx', CUDA_VISIBLE_DEVICES: '0,1,2,3' }).gpuCount).toBe(4);
    expect(loadConfig({ MODEL_PATH: 'm.onnx', CUDA_VISIBLE_DEVICES: '2,3', GPU_COUNT: '1' }).gpuCount).toBe(1);
    expect(loadConfig({ MODEL_PATH: 'm.onnx', CUDA_VISIBLE_DEVICES: '' }).gpuCount).toBe(1);
  });

  test('the health and predict routes must differ', () => {
    expect(() => loadConfig({ MODEL_PATH: 'm.onnx', AIP_HEALTH_ROUTE: '/x', AIP_PREDICT_ROUTE: '/x' })).toThrow(
      /they must differ/,
    );
  });

  test('a gs:// MODEL_PATH needs an object name', () => {
    expect(() => loadConfig({ MODEL_PATH: 'gs://bucket' })).toThrow(/a gs:\/\/ URI needs a bucket and an object name/);
  });
});

describe('loadConfig: the Cloud Monitoring export', () => {
  const VERTEX = { MODEL_PATH: 'm.onnx', AIP_MODE: 'PREDICTION', AIP_DEPLOYED_MODEL_ID: '456', AIP_ENDPOINT_ID: '123' };

  test('on by default on Vertex AI: every minute, workload.googleapis.com, the project and labels from the AIP_* environment', () => {
    // GIVEN the environment Vertex AI sets, and the stack's MODEL_VERSION WHEN loaded
    const c = loadConfig({ ...VERTEX, AIP_PROJECT_NUMBER: '987', MODEL_VERSION: 'v2' });
    // THEN the export is on with its defaults
    expect(c.cloudMonitoring).toEqual({
      projectId: '987',
      intervalMs: 60_000,
      prefix: 'workload.googleapis.com',
      apiEndpoint: undefined,
      labels: { deployed_model_id: '456', endpoint_id: '123', model_version: 'v2', replica: hostname() },
    });
  });

  test('off by default elsewhere; CLOUD_MONITORING_EXPORT switches it either way', () => {
    expect(loadConfig({ MODEL_PATH: 'm.onnx' }).cloudMonitoring).toBeUndefined();
    expect(loadConfig({ ...VERTEX, CLOUD_MONITORING_EXPORT: 'off' }).cloudMonitoring).toBeUndefined();
    expect(loadConfig({ MODEL_PATH: 'm.onnx', CLOUD_MONITORING_EXPORT: 'on' }).cloudMonitoring).toMatchObject({
      labels: { deployed_model_id: 'local', endpoint_id: 'local', model_version: 'unknown' },
    });
  });

  test('CLOUD_MONITORING_PROJECT, _INTERVAL_MS, _METRIC_PREFIX and _ENDPOINT override the defaults', () => {
    const c = loadConfig({
      ...VERTEX,
      AIP_PROJECT_NUMBER: '987',
      CLOUD_MONITORING_PROJECT: 'other-project',
      CLOUD_MONITORING_INTERVAL_MS: '30000',
      CLOUD_MONITORING_METRIC_PREFIX: 'custom.googleapis.com/vision',
      CLOUD_MONITORING_ENDPOINT: 'monitoring.example.com:8443',
    });
    expect(c.cloudMonitoring).toMatchObject({
      projectId: 'other-project',
      intervalMs: 30_000,
      prefix: 'custom.googleapis.com/vision',
      apiEndpoint: 'monitoring.example.com:8443',
    });
  });

  test.each([
    ['CLOUD_MONITORING_EXPORT', 'yes', /CLOUD_MONITORING_EXPORT="yes": must be on or off/],
    [
      'CLOUD_MONITORING_INTERVAL_MS',
      '999',
      /CLOUD_MONITORING_INTERVAL_MS="999": must be an integer from 1000 to 3600000/,
    ],
    ['CLOUD_MONITORING_INTERVAL_MS', '60s', /CLOUD_MONITORING_INTERVAL_MS="60s": must be an integer/],
    [
      'CLOUD_MONITORING_METRIC_PREFIX',
      'example.com/metrics',
      /CLOUD_MONITORING_METRIC_PREFIX="example.com\/metrics": must be workload.googleapis.com or custom.googleapis.com/,
    ],
    [
      'CLOUD_MONITORING_METRIC_PREFIX',
      'workload.googleapis.com/',
      /CLOUD_MONITORING_METRIC_PREFIX="workload.googleapis.com\/"/,
    ],
    [
      'CLOUD_MONITORING_ENDPOINT',
      'https://monitoring.googleapis.com',
      /CLOUD_MONITORING_ENDPOINT="https:\/\/monitoring.googleapis.com": must be host or host:port, without a scheme or path/,
    ],
  ])('%s=%s is refused, even with the export off', (name, value, message) => {
    expect(() => loadConfig({ MODEL_PATH: 'm.onnx', [name]: value })).toThrow(message);
  });
});
