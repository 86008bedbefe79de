/**
 * TensorRT precision and engine cache, applied in the main thread before the inference workers
 * start. onnxruntime-node's session options carry no TensorRT setting but the device, so the
 * server states them with the provider's `ORT_TENSORRT_*` environment variables
 * (https://onnxruntime.ai/docs/execution-providers/TensorRT-ExecutionProvider.html#environment-variablesdeprecated),
 * which its native code reads with getenv when a session is created. Worker threads share the
 * process's environment block but get a copy of `process.env`, so they are set on the main
 * thread's `process.env` (Node writes it through to the real environment), never in a worker.
 *
 * Caveat, from onnxruntime's source: the provider reads these variables only when it was given
 * no options struct, and onnxruntime-node 1.30 appends it with one (CreateTensorRTProviderOptions
 * + SessionOptionsAppendExecutionProvider_TensorRT_V2, which sets `has_trt_options`), so the
 * variables may be ignored (https://github.com/microsoft/onnxruntime/issues/18380). The engine
 * cache (engine-cache.ts) shows which: after the warm-up it finds no engine in the cache folder
 * and says so in a WARNING.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { type TensorrtPrecision, type TensorrtSettings } from '../config';
import { readOnnxOpTypes } from '../onnx-metadata';

/**
 * The `ORT_TENSORRT_*` variables for `settings`: FP16 kernels for fp16 and int8 (layers a
 * quantized model leaves in float run in FP16 rather than FP32), INT8 for int8, and the engine and
 * timing caches in `cacheDir` (a replacement or second worker loads the engines the first built).
 */
export function tensorrtEnvironment(
  settings: Pick<TensorrtSettings, 'precision' | 'cacheDir'>,
): Record<string, string> {
  return {
    ORT_TENSORRT_FP16_ENABLE: settings.precision === 'fp32' ? '0' : '1',
    ORT_TENSORRT_INT8_ENABLE: settings.precision === 'int8' ? '1' : '0',
    ORT_TENSORRT_ENGINE_CACHE_ENABLE: '1',
    ORT_TENSORRT_TIMING_CACHE_ENABLE: '1',
    ORT_TENSORRT_CACHE_PATH: settings.cacheDir,
  };
}

/**
 * Sets {@link tensorrtEnvironment} in `env`. Call it on the main thread's `process.env` before
 * any session is created.
 */
export function applyTensorrtEnvironment(
  settings: Pick<TensorrtSettings, 'precision' | 'cacheDir'>,
  env: NodeJS.ProcessEnv,
): void {
  Object.assign(env, tensorrtEnvironment(settings));
}

/**
 * Why `precision` cannot build `model`, or undefined when it can. INT8 here means explicit
 * quantization: a model with QuantizeLinear/DequantizeLinear (QDQ) nodes, the scales baked in.
 * TensorRT 10 deprecates implicit quantization with a calibration table
 * (https://docs.nvidia.com/deeplearning/tensorrt/latest/inference-library/work-quantized-types.html),
 * and onnxruntime refuses a calibration table for a QDQ model anyway; a dynamically quantized
 * model (DynamicQuantizeLinear, ConvInteger: what `onnxruntime.quantization.quantize_dynamic`
 * writes) has no TensorRT INT8 path at all.
 */
export function precisionProblem(precision: TensorrtPrecision, model: Uint8Array): string | undefined {
  if (precision !== 'int8') return undefined;
  if (readOnnxOpTypes(model).has('DequantizeLinear')) return undefined;
  return 'TENSORRT_PRECISION=int8 needs a QDQ-quantized model (QuantizeLinear/DequantizeLinear nodes, e.g. from onnxruntime.quantization.quantize_static with QuantFormat.QDQ); this model has none. Use fp16, or export a QDQ model (serving-image/README.md#tensorrt)';
}

/** What a TensorRT engine is valid for: an engine built under another identity is never loaded. */
export interface EngineIdentity {
  /** sha256 of the ONNX file, hex. */
  readonly modelSha256: string;
  readonly precision: TensorrtPrecision;
  /** The GPU model(s) of the machine, e.g. `NVIDIA L4`. */
  readonly gpu: string;
  /** TensorRT library version, e.g. `10.9.0`. */
  readonly tensorrt: string;
  /** onnxruntime-node version. */
  readonly onnxruntime: string;
}

/** What the machine and the image are, as far as an engine cares; fields are undefined when unknown. */
export interface Platform {
  readonly gpu?: string;
  readonly tensorrt?: string;
  readonly onnxruntime?: string;
}

/**
 * Reads {@link Platform} from this machine: the GPU models from the NVIDIA driver's
 * `/proc/driver/nvidia/gpus/<bus id>/information` (present in a container the NVIDIA runtime
 * gives GPUs to), the TensorRT version from the name of `libnvinfer.so.<version>` in the library
 * folders, onnxruntime-node's from its package.json.
 */
export function detectPlatform(env: NodeJS.ProcessEnv = process.env): Platform {
  return { gpu: gpuModels(), tensorrt: tensorrtVersion(env), onnxruntime: onnxruntimeVersion() };
}

function gpuModels(): string | undefined {
  const dir = '/proc/driver/nvidia/gpus';
  try {
    const names = readdirSync(dir).map((bus) => {
      const info = readFileSync(path.join(dir, bus, 'information'), 'utf8');
      return /^Model:\s*(.+)$/m.exec(info)?.[1].trim();
    });
    const known = [...new Set(names.filter((n): n is string => !!n))].sort();
    return known.length > 0 ? known.join(', ') : undefined;
  } catch {
    return undefined;
  }
}

function tensorrtVersion(env: NodeJS.ProcessEnv): string | undefined {
  const dirs = [
    ...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
    `/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`,
    '/usr/local/lib',
    '/usr/lib',
  ];
  for (const dir of dirs) {
    try {
      for (const file of readdirSync(dir)) {
        const m = /^libnvinfer\.so\.(\d+\.\d+\.\d+)$/.exec(file);
        if (m) return m[1];
      }
    } catch {
      // A folder that is not there: the next one.
    }
  }
  return undefined;
}

function onnxruntimeVersion(): string | undefined {
  try {
    return JSON.parse(readFileSync(require.resolve('onnxruntime-node/package.json'), 'utf8')).version;
  } catch {
    return undefined;
  }
}

/**
 * The engine identity of `model` on `platform`, or the names of what is unknown (then no cache
 * can be trusted, and none is read or written).
 */
export function engineIdentity(
  model: Uint8Array,
  precision: TensorrtPrecision,
  platform: Platform,
): EngineIdentity | { readonly unknown: string[] } {
  const unknown = (['gpu', 'tensorrt', 'onnxruntime'] as const).filter((k) => !platform[k]);
  if (unknown.length > 0) return { unknown };
  return {
    modelSha256: createHash('sha256').update(model).digest('hex'),
    precision,
    gpu: platform.gpu!,
    tensorrt: platform.tensorrt!,
    onnxruntime: platform.onnxruntime!,
  };
}

/** The cache key of an identity: sha256 of its fields, so every field is part of the folder name. */
export function identityKey(identity: EngineIdentity): string {
  const fields = [identity.modelSha256, identity.precision, identity.gpu, identity.tensorrt, identity.onnxruntime];
  return createHash('sha256').update(JSON.stringify(fields)).digest('hex').slice(0, 32);
}
