/**
 * Entry point: `node dist/main.js`, configured only by environment variables (see the README's
 * "Serving image" section). Listens at once, answering health 503 while the model loads.
 */
import * as path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { type Logger } from 'pino';
import sharp from 'sharp';
import { buildApp, type ServingApp } from './app';
import { type CloudMonitoringExport, startCloudMonitoringExport } from './cloud-monitoring';
import { ConfigError, type ServerConfig, loadConfig } from './config';
import { prepareTensorrt } from './engine/engine-cache';
import { loadEngine } from './engine/load';
import { detectPlatform } from './engine/tensorrt';
import { type InferencePool } from './engine/pool';
import { createLogger } from './logger';
import { ServerMetrics } from './metrics';
import { StorageClient, fetchModelFiles } from './model-source';
import { metricsRoute } from './routes/metrics';

/** The running server, as the signal handlers and the model loading share it. */
interface Server {
  readonly config: ServerConfig;
  readonly logger: Logger;
  readonly metrics: ServerMetrics;
  readonly serving: ServingApp;
  readonly metricsApp?: FastifyInstance;
  /** The Cloud Monitoring export, when on. */
  readonly cloudMonitoring?: CloudMonitoringExport;
  /** Once the model is loaded. */
  pool?: InferencePool;
  stopping: boolean;
}

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createLogger(config.logLevel);
  sharp.concurrency(config.imageThreads);
  // Every request brings new bytes, so libvips' operation cache never hits: it would only hold up
  // to 50 MB of recent decodes (https://github.com/libvips/libvips/issues/1585).
  sharp.cache(false);
  const exportConfig = config.cloudMonitoring;
  const cloudMonitoring = exportConfig && startCloudMonitoringExport(exportConfig, logger);
  const metrics = new ServerMetrics(
    () => server.pool?.queueDepth ?? 0,
    cloudMonitoring && { meter: cloudMonitoring.meter, labels: exportConfig.labels },
  );
  const metricsApp = config.metricsPort === undefined ? undefined : Fastify();
  if (metricsApp) void metricsApp.register(metricsRoute, { metrics });
  const server: Server = {
    config,
    logger,
    metrics,
    serving: buildApp({ config, logger, metrics, serveMetrics: metricsApp === undefined }),
    metricsApp,
    cloudMonitoring,
    stopping: false,
  };
  process.on('SIGTERM', () => void stop(server, 'SIGTERM'));
  process.on('SIGINT', () => void stop(server, 'SIGINT'));
  await listenOrExit(server);
  if (config.cloudMonitoring) {
    const { projectId, intervalMs, prefix, labels } = config.cloudMonitoring;
    logger.info({ projectId, intervalMs, prefix, ...labels }, 'exporting metrics to Cloud Monitoring');
  }
  logger.info(
    { healthRoute: config.healthRoute, predictRoute: config.predictRoute, port: config.port },
    'listening; loading the model',
  );
  await loadModelOrExit(server);
}

function loadConfigOrExit(): ServerConfig {
  try {
    return loadConfig(process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    createLogger('info').fatal({ problems: err.problems }, err.message);
    process.exit(2);
  }
}

/**
 * Longest the process waits, once SHUTDOWN_TIMEOUT_MS has passed, for the `session.run` calls in
 * progress to return before it exits anyway: exiting while a worker is inside onnxruntime's native
 * run aborts the process (SIGABRT) instead of exiting 1.
 */
const RUN_EXIT_GRACE_MS = 10_000;
/** Longest the process waits for the last export to Cloud Monitoring before it exits. */
const LAST_EXPORT_GRACE_MS = 5_000;
/** How long connections accepted just before the listener closes may still send a request (answered 503). */
const LISTENER_GRACE_MS = 1_000;

/** Drains the accepted predictions, then exits 0; exits 1 if that outlasts SHUTDOWN_TIMEOUT_MS. */
async function stop(server: Server, signal: string): Promise<void> {
  if (server.stopping) return;
  server.stopping = true;
  const { config, logger, serving } = server;
  logger.info({ signal }, 'shutting down: health is 503, new predictions are refused, accepted ones are finishing');
  const timer = setTimeout(() => void exitAfterTimeout(server), config.shutdownTimeoutMs);
  await serving.drain();
  logger.info('accepted predictions answered; closing the listener');
  // Requests still arriving (uploads never accepted) are cut; new connections are refused.
  await Promise.all([serving.closeListener(LISTENER_GRACE_MS), server.metricsApp?.close()]);
  await server.pool?.terminate();
  // The last points recorded, sent now rather than lost; a slow API does not hold the exit up long.
  if (server.cloudMonitoring) {
    const grace = new Promise((resolve) => setTimeout(resolve, LAST_EXPORT_GRACE_MS).unref());
    await Promise.race([server.cloudMonitoring.shutdown(), grace]);
  }
  clearTimeout(timer);
  logger.info('stopped');
  process.exit(0);
}

/** SHUTDOWN_TIMEOUT_MS passed: exits 1, once no inference is inside onnxruntime's native run. */
async function exitAfterTimeout({ config, logger, serving, pool }: Server): Promise<void> {
  logger.error(
    { timeoutMs: config.shutdownTimeoutMs, pending: serving.pending },
    'accepted predictions did not finish within SHUTDOWN_TIMEOUT_MS; exiting 1',
  );
  if (pool) {
    const grace = new Promise((resolve) => setTimeout(resolve, RUN_EXIT_GRACE_MS).unref());
    await Promise.race([pool.stopRunning(), grace]);
  }
  process.exit(1);
}

async function listenOrExit({ config, logger, serving, metricsApp }: Server): Promise<void> {
  try {
    await serving.app.listen({ host: config.host, port: config.port });
    if (metricsApp) await metricsApp.listen({ host: config.host, port: config.metricsPort });
  } catch (err) {
    // EADDRINUSE, a HOST that is not an address of this machine...: a setup problem, like bad config.
    logger.fatal(
      {
        host: config.host,
        port: config.port,
        metricsPort: config.metricsPort,
        code: (err as NodeJS.ErrnoException).code,
      },
      `cannot listen: ${(err as Error).message}`,
    );
    process.exit(2);
  }
}

async function loadModelOrExit(server: Server): Promise<void> {
  const { config, logger, metrics, serving } = server;
  try {
    const storage = new StorageClient(process.env.STORAGE_EMULATOR_HOST, {
      // Write access only where engines may be uploaded: a cache URI, and TensorRT to build them.
      write: !!config.tensorrt.cacheUri && config.executionProviders.includes('tensorrt'),
    });
    const files = await fetchModelFiles(config, storage);
    // Before any worker starts: the TensorRT provider reads its settings from the environment.
    const tensorrt = config.executionProviders.includes('tensorrt')
      ? await prepareTensorrt(config.tensorrt, files.model, storage, logger, process.env, detectPlatform())
      : undefined;
    // Workers that keep failing (e.g. a CUDA error that poisons the process's GPU context): exit so
    // that Vertex AI restarts the container; health has been 503 since the last worker went down.
    const onFatal = () => process.exit(1);
    const workerScript = path.join(__dirname, 'engine', 'worker.js');
    const engine = await loadEngine(config, files, logger, metrics, workerScript, onFatal);
    server.pool = engine.pool;
    // In the background: serving does not wait for the upload, and a failed one is only a warning.
    void tensorrt?.afterWarmUp(engine.pool.model.provider);
    if (server.stopping) return;
    serving.setReady(engine.pool, engine.classNames);
    logger.info(
      {
        model: files.modelUri,
        labels: files.labelsUri,
        classNames: engine.classNameSource,
        layout: engine.pool.model.layout.kind,
        profile: config.profile,
        workers: config.workers,
        intraOpThreads: config.intraOpThreads,
        loneImageThreads: config.loneImageThreads ?? 0,
      },
      'ready',
    );
  } catch (err) {
    // The health route never turns 200: Vertex AI reports the deployment as failed with this log line.
    logger.fatal(`cannot load the model: ${(err as Error).message}`);
    process.exit(1);
  }
}

main().catch((err: Error) => {
  // Anything unexpected before the model loads: one JSON line, not a bare stack trace.
  createLogger('info').fatal({ err }, `cannot start: ${err.message}`);
  process.exit(2);
});
