import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import { type Logger } from 'pino';
import { Admission } from './admission';
import { type ServerConfig } from './config';
import { errorBody, toHttpError } from './http-errors';
import { type ServerMetrics } from './metrics';
import { type Engine, Predictor } from './predictor';
import { healthRoute } from './routes/health';
import { metricsRoute } from './routes/metrics';
import { predictRoute } from './routes/predict';

/** Options of {@link buildApp}. */
export interface AppOptions {
  readonly config: ServerConfig;
  readonly logger: Logger;
  readonly metrics: ServerMetrics;
  /**
   * Serve `/metrics` on this app.
   * @default true
   */
  readonly serveMetrics?: boolean;
}

/** The HTTP app and the switches of its lifecycle. */
export interface ServingApp {
  readonly app: FastifyInstance;
  /** The model is loaded and warm: health turns 200 and predictions are served. */
  setReady(engine: Engine, classNames: ReadonlyMap<number, string>): void;
  /**
   * SIGTERM: health turns 503 at once and new predictions are refused with 503; resolves once
   * every prediction already accepted has been answered.
   */
  drain(): Promise<void>;
}

/**
 * Raw bodies (Vertex rawPredict forwards the caller's body and Content-Type unchanged): any
 * `image/*` or `application/octet-stream`, with or without parameters such as `; charset=binary`.
 * The declared type is not trusted: sharp detects the format from the bytes and the
 * SUPPORTED_FORMATS allow-list decides (preprocess.ts).
 */
const RAW_BODY_TYPE = /^(?:image\/[\w.+-]+|application\/octet-stream)(?:\s*;.*)?$/i;

/**
 * find-my-way reads `:` as the start of a path parameter: Vertex's predict route
 * (`/v1/endpoints/{id}/deployedModels/{id}:predict`) would then also match `...:explain` or
 * `.../456x`. `::` is its escape for a literal colon
 * (https://github.com/delvedor/find-my-way#match-order).
 */
function literalRoute(route: string): string {
  return route.replace(/:/g, '::');
}

/**
 * Builds the Vertex AI custom-container app (health and predict on the routes the environment
 * names, https://cloud.google.com/vertex-ai/docs/predictions/custom-container-requirements),
 * without listening. Health answers 503 until {@link ServingApp.setReady}.
 */
export function buildApp(options: AppOptions): ServingApp {
  const { config, metrics } = options;
  const admission = new Admission<Predictor>((uploads) => metrics.uploads.set(uploads));
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.maxRequestBytes,
  });
  // Only JSON and images: anything else (fastify also parses text/plain by default) is a 415.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser(RAW_BODY_TYPE, { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  const urls = { predict: literalRoute(config.predictRoute), health: literalRoute(config.healthRoute) };
  app.addHook('onResponse', async (request, reply) => logRequest(request, reply, metrics, urls));
  app.setErrorHandler(replyWithError);
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send(
      errorBody({
        status: 404,
        code: 'NOT_FOUND',
        message: `no route ${request.method} ${request.url.split('?')[0]}`,
      }),
    ),
  );

  void app.register(healthRoute, { url: urls.health, admission });
  void app.register(predictRoute, { url: urls.predict, maxInstances: config.maxInstances, admission });
  if (options.serveMetrics ?? true) void app.register(metricsRoute, { metrics });

  return {
    app,
    setReady(engine, classNames) {
      const onPreprocess = (seconds: number) => metrics.preprocess.observe(seconds);
      admission.open(new Predictor(engine, classNames, { maxImagePixels: config.maxImagePixels, onPreprocess }));
    },
    drain: () => admission.drain(),
  };
}

/** One log line and the request metrics per answered request. */
function logRequest(
  request: FastifyRequest,
  reply: FastifyReply,
  metrics: ServerMetrics,
  urls: { readonly predict: string; readonly health: string },
): void {
  const url = request.routeOptions.url;
  const route = url === urls.predict ? 'predict' : url === urls.health ? 'health' : (url ?? 'unmatched');
  metrics.requests.inc({ route, status: reply.statusCode });
  if (route === 'predict') metrics.latency.observe(reply.elapsedTime / 1000);
  request.log.info(
    {
      method: request.method,
      route,
      status: reply.statusCode,
      latencyMs: Math.round(reply.elapsedTime * 10) / 10,
      instances: request.instanceCount ?? 0,
    },
    'request',
  );
}

function replyWithError(err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const httpError = toHttpError(err);
  if (httpError.code === 'INTERNAL') request.log.error({ err }, 'predict failed');
  // The message never holds image bytes: they are only ever in buffers, never in error text.
  else
    request.log.warn(
      { code: httpError.code, status: httpError.status, instance: httpError.instance, reason: httpError.message },
      'request refused',
    );
  if (httpError.retryAfterSeconds !== undefined) void reply.header('retry-after', String(httpError.retryAfterSeconds));
  return reply.status(httpError.status).send(errorBody(httpError));
}
