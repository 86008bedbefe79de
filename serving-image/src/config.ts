import { existsSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import { DEFAULT_METRIC_PREFIX } from './metric-types';

/** Execution providers onnxruntime-node 1.30 can be asked for on Linux. */
export const KNOWN_EXECUTION_PROVIDERS = ['tensorrt', 'cuda', 'cpu'] as const;
/** One of {@link KNOWN_EXECUTION_PROVIDERS}. */
export type ExecutionProvider = (typeof KNOWN_EXECUTION_PROVIDERS)[number];

/** What `SERVING_PROFILE` optimises the CPU thread layout for. */
export const SERVING_PROFILES = ['latency', 'throughput'] as const;
/** One of {@link SERVING_PROFILES}. */
export type ServingProfile = (typeof SERVING_PROFILES)[number];

/** Inference workers and onnxruntime intra-op threads per worker. */
export interface ThreadLayout {
  readonly workers: number;
  readonly intraOpThreads: number;
}

/**
 * The thread layout a profile gives. GPU serving: one worker per GPU in both profiles (the GPU does
 * the work; more workers per GPU only queue on it). CPU serving:
 * - `latency`: one worker whose session runs each image on every core: the shortest time per
 *   image, but the cores idle while the worker decodes the output and waits for the next image.
 * - `throughput`: one worker per core, each running its own image: the cores stay on inference
 *   while the main thread decodes the next images (on 2 cores, yolov8n-int8 at concurrency 16:
 *   1.41x to 1.76x a plain server's throughput, docs/benchmarks.md#serving-profiles). At most
 *   {@link MAX_THROUGHPUT_WORKERS}: past it, the threads per worker grow instead.
 * The workers always share the cores (never more threads than cores: 2 workers of 2 threads each on
 * 2 cores did 0.73x). The stack computes the same layout from the machine type's vCPUs
 * (rules/serving-profile.ts `cpuThreadLayout`; a test holds the two equal).
 * @param cores CPU cores the process may use
 * @param gpus GPUs served on; 0 for CPU serving
 */
export function profileThreadLayout(profile: ServingProfile, cores: number, gpus: number): ThreadLayout {
  const workers = gpus > 0 ? gpus : profile === 'throughput' ? Math.min(cores, MAX_THROUGHPUT_WORKERS) : 1;
  return { workers, intraOpThreads: Math.max(1, Math.floor(cores / workers)) };
}

/**
 * Most workers the throughput profile starts: each holds a session (the model's weights and its
 * arena), so a 96-vCPU machine would otherwise hold 96 copies.
 */
const MAX_THROUGHPUT_WORKERS = 16;

/**
 * Whether this machine has an NVIDIA GPU the container can use: the NVIDIA container runtime
 * mounts the driver's `/proc/driver/nvidia/gpus/<bus id>/` folders into GPU containers.
 */
export function nvidiaGpuPresent(): boolean {
  return existsSync('/proc/driver/nvidia/gpus');
}

/** Precisions the TensorRT provider may build its engines in (`TENSORRT_PRECISION`). */
export const TENSORRT_PRECISIONS = ['fp32', 'fp16', 'int8'] as const;
/** One of {@link TENSORRT_PRECISIONS}. */
export type TensorrtPrecision = (typeof TENSORRT_PRECISIONS)[number];

/**
 * The TensorRT provider's variables the server sets itself from `TENSORRT_PRECISION` and
 * `TENSORRT_CACHE_DIR` (engine/tensorrt.ts): set by hand as well, the engine cache's key would not
 * describe the engines in it.
 */
export const SERVER_SET_TENSORRT_VARIABLES = [
  'ORT_TENSORRT_FP16_ENABLE',
  'ORT_TENSORRT_INT8_ENABLE',
  'ORT_TENSORRT_ENGINE_CACHE_ENABLE',
  'ORT_TENSORRT_TIMING_CACHE_ENABLE',
  'ORT_TENSORRT_CACHE_PATH',
] as const;

/** How the TensorRT provider builds and caches its engines (used only when it is among the providers). */
export interface TensorrtSettings {
  /** Engine precision (`TENSORRT_PRECISION`). */
  readonly precision: TensorrtPrecision;
  /** Local folder the engines are cached in (`TENSORRT_CACHE_DIR`). */
  readonly cacheDir: string;
  /** `gs://` folder the engines are shared through by every replica and restart (`TENSORRT_CACHE_URI`), when set. */
  readonly cacheUri?: string;
}

/** The server's whole configuration, read once from the environment by {@link loadConfig}. */
export interface ServerConfig {
  /** Interface to listen on. */
  readonly host: string;
  /** Port of the health and predict routes (`AIP_HTTP_PORT`). */
  readonly port: number;
  /** Health route (`AIP_HEALTH_ROUTE`). */
  readonly healthRoute: string;
  /** Predict route (`AIP_PREDICT_ROUTE`). */
  readonly predictRoute: string;
  /** Where the model is: a local path or `gs://` URI (`MODEL_PATH`), else a `gs://` folder (`AIP_STORAGE_URI`). */
  readonly model: { readonly kind: 'file'; readonly uri: string } | { readonly kind: 'folder'; readonly uri: string };
  /** Labels file (local path or `gs://` URI), one class name a line. */
  readonly labelsPath?: string;
  /** Execution providers in the order they are tried. */
  readonly executionProviders: readonly ExecutionProvider[];
  /** What the defaults of `workers` and `intraOpThreads` optimise for (`SERVING_PROFILE`). */
  readonly profile: ServingProfile;
  /** Inference worker threads. */
  readonly workers: number;
  /** onnxruntime intra-op threads per worker. */
  readonly intraOpThreads: number;
  /** libvips threads decoding and resizing one image (sharp.concurrency). */
  readonly imageThreads: number;
  /** GPUs the workers are spread over (worker i uses GPU `i % gpuCount`). */
  readonly gpuCount: number;
  /**
   * Intra-op threads of the first worker's second session, which runs an image that arrives while
   * every worker is idle (undefined: no second session). The throughput profile on CPU sets it to
   * the core count, so a lone image does not run on one core while the others idle.
   */
  readonly loneImageThreads?: number;
  /** Nice value of the inference threads, so HTTP and decoding run first when the cores are busy (0: off). */
  readonly workerNice: number;
  /** Replacement workers that may fail in a row before the process exits. */
  readonly workerMaxRestarts: number;
  /** Most instances in one request. */
  readonly maxInstances: number;
  /** Largest request body in bytes. */
  readonly maxRequestBytes: number;
  /** Largest image in pixels (width x height), checked from the header before decoding. */
  readonly maxImagePixels: number;
  /** Most images run in one `session.run` when the model's batch dimension allows it. */
  readonly maxBatchSize: number;
  /** Longest an image waits for a batch to fill. */
  readonly maxQueueDelayMs: number;
  /** Most request bodies arriving at once. */
  readonly maxUploads: number;
  /** Longest a request (headers and body) may take to arrive before it is answered 408 and closed. */
  readonly bodyTimeoutMs: number;
  /** Most decoded pixels in flight (images being decoded and resized), counted from their headers. */
  readonly decodePixelBudget: number;
  /** Most images waiting for a worker; beyond it requests are answered 429. */
  readonly maxQueueSize: number;
  /** Longest an image may wait in the queue before its request is answered 503. */
  readonly requestTimeoutMs: number;
  /** Longest the server drains accepted requests after SIGTERM before it exits. */
  readonly shutdownTimeoutMs: number;
  /** Separate port for `/metrics`; on the serving port when unset. */
  readonly metricsPort?: number;
  /** pino log level. */
  readonly logLevel: string;
  /** TensorRT engine precision and cache. */
  readonly tensorrt: TensorrtSettings;
  /** Export of the metrics to Cloud Monitoring; undefined when off (`CLOUD_MONITORING_EXPORT`). */
  readonly cloudMonitoring?: CloudMonitoringConfig;
}

/** Where and how often the metrics go to Cloud Monitoring, and the labels every point carries. */
export interface CloudMonitoringConfig {
  /** Project written to (`CLOUD_MONITORING_PROJECT`, else `AIP_PROJECT_NUMBER`); else the credentials' project. */
  readonly projectId?: string;
  /** Milliseconds between exports (`CLOUD_MONITORING_INTERVAL_MS`). */
  readonly intervalMs: number;
  /** Prefix of the metric types (`CLOUD_MONITORING_METRIC_PREFIX`). */
  readonly prefix: string;
  /** `host:port` of the Monitoring API (`CLOUD_MONITORING_ENDPOINT`), always reached over HTTPS. */
  readonly apiEndpoint?: string;
  /** Labels of every point but `execution_provider` (known once the model is loaded). */
  readonly labels: {
    readonly deployed_model_id: string;
    readonly endpoint_id: string;
    readonly model_version: string;
    readonly replica: string;
  };
}

/** 0 (off) as undefined. */
function loneImageThreads(threads: number): number | undefined {
  return threads === 0 ? undefined : threads;
}

/** Thrown by {@link loadConfig} with every problem found, one a line. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * GPUs listed in CUDA_VISIBLE_DEVICES (CUDA numbers the visible ones 0..n-1), else 1: when it is
 * unset, multi-GPU machine types need GPU_COUNT (and WORKERS) set to their GPU count.
 */
function visibleGpus(cudaVisibleDevices: string | undefined): number {
  const ids = (cudaVisibleDevices ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '' && s !== '-1');
  return Math.max(1, ids.length);
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** `TENSORRT_*` settings; problems are added to `problems`. */
function tensorrtSettings(env: NodeJS.ProcessEnv, problems: string[]): TensorrtSettings {
  // FP16 by default: the best speed at the shipped detectors' accuracy (serving-image/README.md#tensorrt).
  const precision = (env.TENSORRT_PRECISION || 'fp16').toLowerCase();
  if (!(TENSORRT_PRECISIONS as readonly string[]).includes(precision)) {
    problems.push(
      `TENSORRT_PRECISION=${JSON.stringify(env.TENSORRT_PRECISION)}: must be one of ${TENSORRT_PRECISIONS.join(', ')}`,
    );
  }
  const cacheUri = env.TENSORRT_CACHE_URI || undefined;
  if (cacheUri !== undefined && !/^gs:\/\/[^/]+/.test(cacheUri)) {
    problems.push(`TENSORRT_CACHE_URI=${JSON.stringify(cacheUri)}: must be a gs:// folder`);
  }
  for (const name of SERVER_SET_TENSORRT_VARIABLES) {
    if (env[name] !== undefined) {
      problems.push(
        `${name}=${JSON.stringify(env[name])}: the server sets it from TENSORRT_PRECISION and TENSORRT_CACHE_DIR; remove it and set those instead`,
      );
    }
  }
  return {
    precision: precision as TensorrtPrecision,
    cacheDir: env.TENSORRT_CACHE_DIR || '/tmp/ort-trt',
    // One folder, with a trailing slash, so that object names are joined to it without doubt.
    cacheUri: cacheUri?.replace(/\/*$/, '/'),
  };
}
/** Domains of user-defined metric types (https://cloud.google.com/monitoring/custom-metrics#identifier). */
const METRIC_PREFIX = /^(workload|custom)\.googleapis\.com(\/[a-z0-9_]+)*$/;

/**
 * Reads and validates the configuration from environment variables, collecting every problem
 * before throwing one {@link ConfigError}. The README's "Serving image" section documents each variable.
 * @param env the environment, `process.env` in production
 * @param gpuPresent whether the machine has a GPU: serving is on GPUs only when it has one and a
 *   GPU provider is listed first, so a CPU machine gets the profile's CPU layout with the default list
 */
export function loadConfig(env: NodeJS.ProcessEnv, gpuPresent = nvidiaGpuPresent()): ServerConfig {
  const problems: string[] = [];
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name}=${JSON.stringify(raw)}: must be an integer from ${min} to ${max}`);
      return fallback;
    }
    return n;
  };
  const route = (name: string, fallback: string): string => {
    const raw = env[name] || fallback;
    if (!raw.startsWith('/') || /\s/.test(raw))
      problems.push(`${name}=${JSON.stringify(raw)}: must be a URL path starting with "/"`);
    return raw;
  };

  const healthRoute = route('AIP_HEALTH_ROUTE', '/health');
  const predictRoute = route('AIP_PREDICT_ROUTE', '/predict');
  if (healthRoute === predictRoute)
    problems.push(`AIP_HEALTH_ROUTE and AIP_PREDICT_ROUTE are both ${JSON.stringify(healthRoute)}: they must differ`);

  let model: ServerConfig['model'] = { kind: 'file', uri: '' };
  if (env.MODEL_PATH) {
    model = { kind: 'file', uri: env.MODEL_PATH };
    if (env.MODEL_PATH.startsWith('gs://') && !/^gs:\/\/[^/]+\/.+/.test(env.MODEL_PATH)) {
      problems.push(`MODEL_PATH=${JSON.stringify(env.MODEL_PATH)}: a gs:// URI needs a bucket and an object name`);
    }
  } else if (env.AIP_STORAGE_URI) {
    model = { kind: 'folder', uri: env.AIP_STORAGE_URI };
    if (!/^gs:\/\/[^/]+/.test(env.AIP_STORAGE_URI))
      problems.push(`AIP_STORAGE_URI=${JSON.stringify(env.AIP_STORAGE_URI)}: must be a gs:// URI`);
  } else {
    problems.push(
      'no model: set MODEL_PATH (a local .onnx file or a gs:// URI) or AIP_STORAGE_URI (a gs:// folder holding one .onnx file); to get a detector as ONNX, export one with Ultralytics (`yolo export model=yolo11n.pt format=onnx`): see docs/models.md',
    );
  }

  const eps = (env.EXECUTION_PROVIDERS || 'tensorrt,cuda,cpu').split(',').map((s) => s.trim().toLowerCase());
  const unknown = eps.filter((ep) => !(KNOWN_EXECUTION_PROVIDERS as readonly string[]).includes(ep));
  if (unknown.length > 0 || eps.length === 0) {
    problems.push(
      `EXECUTION_PROVIDERS=${JSON.stringify(env.EXECUTION_PROVIDERS)}: ${unknown.map((u) => JSON.stringify(u)).join(', ')} unknown; use a comma-separated list of ${KNOWN_EXECUTION_PROVIDERS.join(', ')}`,
    );
  }

  const profile = (env.SERVING_PROFILE || 'latency') as ServingProfile;
  if (!SERVING_PROFILES.includes(profile))
    problems.push(
      `SERVING_PROFILE=${JSON.stringify(env.SERVING_PROFILE)}: must be one of ${SERVING_PROFILES.join(', ')}`,
    );
  const cores = availableParallelism();
  const gpuCount = int('GPU_COUNT', visibleGpus(env.CUDA_VISIBLE_DEVICES), 1, 64);
  const onGpus = gpuPresent && eps[0] !== 'cpu';
  const workers = int('WORKERS', profileThreadLayout(profile, cores, onGpus ? gpuCount : 0).workers, 1, 64);
  // The workers share the cores, so intra-op pools do not oversubscribe them.
  const intraOpThreads = int('INTRA_OP_THREADS', Math.max(1, Math.floor(cores / workers)), 1, 256);
  const logLevel = env.LOG_LEVEL || 'info';
  if (!LOG_LEVELS.includes(logLevel))
    problems.push(`LOG_LEVEL=${JSON.stringify(logLevel)}: must be one of ${LOG_LEVELS.join(', ')}`);

  const tensorrt = tensorrtSettings(env, problems);
  const config: ServerConfig = {
    host: env.HOST || '0.0.0.0',
    port: int('AIP_HTTP_PORT', 8080, 0, 65535),
    healthRoute,
    predictRoute,
    model,
    labelsPath: env.LABELS_PATH || undefined,
    executionProviders: eps as ExecutionProvider[],
    profile,
    workers,
    intraOpThreads,
    // sharp defaults to 1 thread on glibc Linux (to limit malloc fragmentation,
    // https://sharp.pixelplumbing.com/api-utility#concurrency); decoding a frame on every core cuts
    // the latency of a lone request (measured: 21.7 -> 14.9 ms median per image on 2 cores).
    imageThreads: int('IMAGE_THREADS', cores, 1, 256),
    gpuCount,
    // Health p99 at concurrency 16: 12-14 ms with it, 18-22 ms without (docs/benchmarks.md#serving-profiles); see lowerThreadPriority.
    // By default only where it adds cores: CPU workers with fewer intra-op threads than cores (0 turns it off).
    loneImageThreads: loneImageThreads(
      int(
        'LONE_IMAGE_THREADS',
        profile === 'throughput' && !onGpus && workers > 1 && intraOpThreads < cores ? cores : 0,
        0,
        256,
      ),
    ),
    workerNice: int('WORKER_NICE', 10, 0, 19),
    workerMaxRestarts: int('WORKER_MAX_RESTARTS', 5, 0, 100),
    maxInstances: int('MAX_INSTANCES', 16, 1, 1024),
    maxRequestBytes: int('MAX_REQUEST_BYTES', 10 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    maxImagePixels: int('MAX_IMAGE_PIXELS', 40_000_000, 1, 1_000_000_000),
    maxUploads: int('MAX_UPLOADS', 16, 1, 100_000),
    bodyTimeoutMs: int('BODY_TIMEOUT_MS', 10_000, 100, 600_000),
    decodePixelBudget: int('DECODE_PIXEL_BUDGET', 80_000_000, 1, 10_000_000_000),
    maxBatchSize: int('MAX_BATCH_SIZE', 8, 1, 256),
    maxQueueDelayMs: int('MAX_QUEUE_DELAY_MS', 5, 0, 10_000),
    maxQueueSize: int('MAX_QUEUE_SIZE', 64, 1, 100_000),
    requestTimeoutMs: int('REQUEST_TIMEOUT_MS', 30_000, 1, 600_000),
    shutdownTimeoutMs: int('SHUTDOWN_TIMEOUT_MS', 25_000, 1, 600_000),
    metricsPort: env.METRICS_PORT ? int('METRICS_PORT', 0, 1, 65535) : undefined,
    logLevel,
    tensorrt,
    cloudMonitoring: cloudMonitoringConfig(env, int, problems),
  };
  // A request's images are admitted all at once, so one with more images than the queue holds
  // would get 429 on an idle server, forever.
  if (config.maxInstances > config.maxQueueSize) {
    problems.push(
      `MAX_INSTANCES=${config.maxInstances} is larger than MAX_QUEUE_SIZE=${config.maxQueueSize}: a request that large could never be queued; lower MAX_INSTANCES or raise MAX_QUEUE_SIZE`,
    );
  }
  // An image as large as MAX_IMAGE_PIXELS must fit in the budget alone, else it would wait forever.
  if (config.maxImagePixels > config.decodePixelBudget) {
    problems.push(
      `MAX_IMAGE_PIXELS=${config.maxImagePixels} is larger than DECODE_PIXEL_BUDGET=${config.decodePixelBudget}: such an image could never be decoded; lower MAX_IMAGE_PIXELS or raise DECODE_PIXEL_BUDGET`,
    );
  }
  if (config.metricsPort !== undefined && config.metricsPort === config.port) {
    problems.push(
      `METRICS_PORT=${config.metricsPort}: equals AIP_HTTP_PORT; leave it unset to serve /metrics on the serving port`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/**
 * The Cloud Monitoring export, or undefined when it is off: on by default on Vertex AI, which sets
 * `AIP_MODE=PREDICTION` and `AIP_DEPLOYED_MODEL_ID` in the container
 * (https://cloud.google.com/vertex-ai/docs/predictions/custom-container-requirements#aip-variables),
 * off elsewhere; `CLOUD_MONITORING_EXPORT=on|off` decides either way.
 */
function cloudMonitoringConfig(
  env: NodeJS.ProcessEnv,
  int: (name: string, fallback: number, min: number, max: number) => number,
  problems: string[],
): CloudMonitoringConfig | undefined {
  const onVertex = env.AIP_MODE === 'PREDICTION' || Boolean(env.AIP_DEPLOYED_MODEL_ID);
  const switched = (env.CLOUD_MONITORING_EXPORT ?? '').trim().toLowerCase();
  if (!['', 'on', 'off'].includes(switched))
    problems.push(`CLOUD_MONITORING_EXPORT=${JSON.stringify(env.CLOUD_MONITORING_EXPORT)}: must be on or off`);
  // Cloud Monitoring takes one point per time series every 5 s at most
  // (https://cloud.google.com/monitoring/quotas#custom_metrics_quotas); 1 s is for tests against a stand-in.
  const intervalMs = int('CLOUD_MONITORING_INTERVAL_MS', 60_000, 1_000, 3_600_000);
  const prefix = env.CLOUD_MONITORING_METRIC_PREFIX || DEFAULT_METRIC_PREFIX;
  if (!METRIC_PREFIX.test(prefix))
    problems.push(
      `CLOUD_MONITORING_METRIC_PREFIX=${JSON.stringify(prefix)}: must be workload.googleapis.com or custom.googleapis.com, optionally followed by /path segments of lowercase letters, digits and _`,
    );
  const apiEndpoint = env.CLOUD_MONITORING_ENDPOINT || undefined;
  if (apiEndpoint !== undefined && !/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(apiEndpoint))
    problems.push(
      `CLOUD_MONITORING_ENDPOINT=${JSON.stringify(apiEndpoint)}: must be host or host:port, without a scheme or path (the API is reached over HTTPS)`,
    );
  if (switched === 'off' || (switched === '' && !onVertex)) return undefined;
  return {
    projectId: env.CLOUD_MONITORING_PROJECT || env.AIP_PROJECT_NUMBER || undefined,
    intervalMs,
    prefix,
    apiEndpoint,
    labels: {
      deployed_model_id: env.AIP_DEPLOYED_MODEL_ID || 'local',
      endpoint_id: env.AIP_ENDPOINT_ID || 'local',
      model_version: env.MODEL_VERSION || 'unknown',
      replica: hostname(),
    },
  };
}
