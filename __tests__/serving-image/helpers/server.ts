import { Writable } from 'node:stream';
import { buildApp, type ServingApp } from '../../../serving-image/src/app';
import { loadConfig, type ServerConfig } from '../../../serving-image/src/config';
import { loadEngine } from '../../../serving-image/src/engine/load';
import { type InferencePool } from '../../../serving-image/src/engine/pool';
import { createLogger } from '../../../serving-image/src/logger';
import { ServerMetrics } from '../../../serving-image/src/metrics';
import { workerScript } from './build';

/** A server built in-process, with its logs captured. */
export interface TestServer {
  readonly serving: ServingApp;
  readonly pool: InferencePool;
  readonly config: ServerConfig;
  readonly metrics: ServerMetrics;
  /** Log lines, parsed. */
  readonly logs: Record<string, unknown>[];
  close(): Promise<void>;
}

/** Captures pino's JSON lines. */
export function logSink(): { stream: Writable; logs: Record<string, unknown>[] } {
  const logs: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) logs.push(JSON.parse(line));
      done();
    },
  });
  return { stream, logs };
}

/**
 * Builds the app (not listening: tests use `inject`) and a worker pool on `model`, as main.ts
 * does. `env` is the environment the configuration is read from (MODEL_PATH is not read here).
 */
export async function startTestServer(
  model: Uint8Array,
  env: Record<string, string> = {},
  labels?: string[],
): Promise<TestServer> {
  const config = loadConfig({
    MODEL_PATH: 'in-memory.onnx',
    EXECUTION_PROVIDERS: 'cpu',
    INTRA_OP_THREADS: '1',
    ...env,
  });
  const { stream, logs } = logSink();
  const logger = createLogger('info', stream);
  let pool: InferencePool | undefined;
  const metrics = new ServerMetrics(() => pool?.queueDepth ?? 0);
  const serving = buildApp({ config, logger, metrics });
  const engine = await loadEngine(config, { model, labels }, logger, metrics, workerScript);
  pool = engine.pool;
  serving.setReady(pool, engine.classNames);
  const started = pool;
  return {
    serving,
    pool: started,
    config,
    metrics,
    logs,
    async close() {
      await serving.app.close();
      await started.terminate();
    },
  };
}
