/**
 * Entry point: `node dist/main.js`, configured only by environment variables (see the README's
 * "Serving image" section). Listens at once, answering health 503 while the model loads.
 */
import * as path from 'node:path';
import Fastify from 'fastify';
import sharp from 'sharp';
import { buildApp } from './app';
import { ConfigError, loadConfig } from './config';
import { loadEngine } from './engine/load';
import { type InferencePool } from './engine/pool';
import { createLogger } from './logger';
import { ServerMetrics } from './metrics';
import { StorageClient, fetchModelFiles } from './model-source';
import { metricsRoute } from './routes/metrics';

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    createLogger('info').fatal({ problems: err.problems }, err.message);
    process.exit(2);
  }
  const logger = createLogger(config.logLevel);
  sharp.concurrency(config.imageThreads);
  // Every request brings new bytes, so libvips' operation cache never hits: it would only hold up
  // to 50 MB of recent decodes (https://github.com/libvips/libvips/issues/1585).
  sharp.cache(false);
  let pool: InferencePool | undefined;
  const metrics = new ServerMetrics(() => pool?.queueDepth ?? 0);
  const serving = buildApp({ config, logger, metrics, serveMetrics: config.metricsPort === undefined });
  const metricsApp = config.metricsPort === undefined ? undefined : Fastify();
  if (metricsApp) void metricsApp.register(metricsRoute, { metrics });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const cfg = config;
    logger.info({ signal }, 'shutting down: health is 503, new predictions are refused, accepted ones are finishing');
    const timer = setTimeout(() => {
      logger.error(
        { timeoutMs: cfg.shutdownTimeoutMs },
        'accepted predictions did not finish within SHUTDOWN_TIMEOUT_MS; exiting anyway',
      );
      process.exit(1);
    }, cfg.shutdownTimeoutMs);
    await serving.drain();
    await Promise.all([serving.app.close(), metricsApp?.close()]);
    await pool?.terminate();
    clearTimeout(timer);
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

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
  logger.info(
    { healthRoute: config.healthRoute, predictRoute: config.predictRoute, port: config.port },
    'listening; loading the model',
  );

  try {
    const files = await fetchModelFiles(config, new StorageClient(process.env.STORAGE_EMULATOR_HOST));
    // Workers that keep failing (e.g. a CUDA error that poisons the process's GPU context): exit so
    // that Vertex AI restarts the container; health has been 503 since the last worker went down.
    const onFatal = () => process.exit(1);
    const engine = await loadEngine(
      config,
      files,
      logger,
      metrics,
      path.join(__dirname, 'engine', 'worker.js'),
      onFatal,
    );
    pool = engine.pool;
    if (stopping) return;
    serving.setReady(pool, engine.classNames);
    logger.info(
      {
        model: files.modelUri,
        labels: files.labelsUri,
        classNames: engine.classNameSource,
        layout: pool.model.layout.kind,
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
