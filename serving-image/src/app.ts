import { Server as NetServer, type Socket } from 'node:net';
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
import { truncate } from './echo';
import {
  type HttpError,
  HttpRefusal,
  errorBody,
  fromClientError,
  type HttpLimits,
  rawErrorResponse,
  toHttpError,
} from './http-errors';
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
  /**
   * After {@link drain}: stops listening, answers requests still arriving on open connections
   * 503 SHUTTING_DOWN (a connection accepted just before gets an answer, not a reset) for up to
   * `graceMs` or until every connection has closed, then closes the connections left (uploads
   * that were never accepted).
   */
  closeListener(graceMs: number): Promise<void>;
  /** Predictions accepted and not yet answered. */
  readonly pending: number;
}

/** An upload still arriving this long after it started may be cut for a newer one (MAX_UPLOADS). */
export const MIN_UPLOAD_AGE_MS = 1000;

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
  const { config, metrics, logger } = options;
  const limits: HttpLimits = { maxRequestBytes: config.maxRequestBytes, bodyTimeoutMs: config.bodyTimeoutMs };
  const admission = new Admission<Predictor>((uploads) => metrics.setUploads(uploads), {
    maxUploads: config.maxUploads,
    minUploadAgeMs: MIN_UPLOAD_AGE_MS,
  });
  /** Answers a connection no fastify reply owns (a parser error, a timeout, a cut upload), then closes it. */
  const refuseOnSocket = (socket: Socket, httpError: HttpError, detail?: string) => {
    metrics.observeRequest('none', httpError.status, httpError.code);
    logger.warn(
      { code: httpError.code, status: httpError.status, reason: httpError.message, detail },
      'request refused',
    );
    const response = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (socket.writable && !response?.headersSent) socket.end(rawErrorResponse(httpError));
    // Closed for good once the answer is out, even if the client never reads nor closes its side.
    setTimeout(() => socket.destroy(), 1000).unref();
  };
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.maxRequestBytes,
    // Node's own timeouts (checked every connectionsCheckingInterval): the headers and the whole
    // request must have arrived within BODY_TIMEOUT_MS, else 408 and the connection is closed.
    requestTimeout: config.bodyTimeoutMs,
    http: {
      headersTimeout: config.bodyTimeoutMs,
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(config.bodyTimeoutMs / 4))),
      // Node would answer a missing Host with an empty 400; the onRequest hook below answers it.
      requireHostHeader: false,
    },
    // Shutdown answers with the documented body (admission refuses SHUTTING_DOWN), not fastify's.
    return503OnClosing: false,
    clientErrorHandler: (err: NodeJS.ErrnoException, socket: Socket) => {
      // The client is gone: nothing to answer, nothing refused.
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      refuseOnSocket(socket, fromClientError(err, limits), err.code);
    },
    // A malformed URL (bad percent-encoding): the documented body, logged and counted.
    // (No route ran, so no onResponse hook: counted here.)
    frameworkErrors: (err, request, reply) => {
      const sent = replyWithError(err, request, reply);
      metrics.observeRequest('none', reply.statusCode, request.errorCode);
      return sent;
    },
  });
  // Only JSON and images: anything else (fastify also parses text/plain by default) is a 415.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser(RAW_BODY_TYPE, { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  const urls = { predict: literalRoute(config.predictRoute), health: literalRoute(config.healthRoute) };
  app.addHook('onRequest', async (request, reply) => {
    // HTTP/1.1 requires Host (RFC 9112, 3.2).
    if (request.raw.httpVersion === '1.1' && request.headers.host === undefined)
      throw new HttpRefusal({ status: 400, code: 'MALFORMED_REQUEST', message: 'the request has no Host header' });
    // Draining: a request with no body left to read gets Connection: close. (Closing while the
    // client still sends a body refused before it was read resets the connection before the client
    // reads the answer: Node then reads and drops the rest of the body instead.)
    if (admission.health === 'shutting_down' && request.raw.complete) void reply.header('connection', 'close');
  });
  app.addHook('onResponse', async (request, reply) => logRequest(request, reply, metrics, urls));
  const replyWithError = (err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const httpError = toHttpError(err, limits);
    request.errorCode = httpError.code;
    if (httpError.code === 'INTERNAL') request.log.error({ err }, 'predict failed');
    // The message never holds image bytes (they are only ever in buffers), and echoes are cut (echo.ts).
    else
      request.log.warn(
        { code: httpError.code, status: httpError.status, instance: httpError.instance, reason: httpError.message },
        'request refused',
      );
    if (httpError.retryAfterSeconds !== undefined)
      void reply.header('retry-after', String(httpError.retryAfterSeconds));
    return reply.status(httpError.status).send(errorBody(httpError));
  };
  app.setErrorHandler(replyWithError);
  app.setNotFoundHandler((request, reply) => {
    request.errorCode = 'NOT_FOUND';
    return reply.status(404).send(
      errorBody({
        status: 404,
        code: 'NOT_FOUND',
        message: `no route ${request.method} ${truncate(request.url.split('?')[0])}`,
      }),
    );
  });

  void app.register(healthRoute, { url: urls.health, admission });
  const cutUpload = (socket: Socket) =>
    refuseOnSocket(socket, {
      status: 408,
      code: 'REQUEST_TIMEOUT',
      message: `the body was still arriving after ${MIN_UPLOAD_AGE_MS} ms while MAX_UPLOADS=${config.maxUploads} bodies were arriving; send it faster, or retry`,
    });
  void app.register(predictRoute, { url: urls.predict, maxInstances: config.maxInstances, admission, cutUpload });
  if (options.serveMetrics ?? true) void app.register(metricsRoute, { metrics });

  return {
    app,
    setReady(engine, classNames) {
      const onPreprocess = (seconds: number) => metrics.observePreprocess(seconds);
      admission.open(
        new Predictor(engine, classNames, {
          maxImagePixels: config.maxImagePixels,
          decodePixelBudget: config.decodePixelBudget,
          onPreprocess,
        }),
      );
    },
    drain: () => admission.drain(),
    get pending() {
      return admission.pending;
    },
    closeListener: (graceMs) => closeListener(app, graceMs),
  };
}

/**
 * Stops accepting connections but, unlike http.Server#close, keeps the ones already accepted and
 * not yet sending (they get an answer: 503, connection closed), for up to `graceMs`.
 */
async function closeListener(app: FastifyInstance, graceMs: number): Promise<void> {
  const server = app.server;
  if (!server.listening) return;
  // net.Server#close calls back once every connection has closed.
  const closed = new Promise<void>((resolve) => NetServer.prototype.close.call(server, () => resolve()));
  await Promise.race([closed, new Promise((r) => setTimeout(r, graceMs).unref())]);
  server.closeAllConnections();
  await closed;
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
  const code = request.errorCode ?? (reply.statusCode < 400 ? undefined : `HTTP_${reply.statusCode}`);
  metrics.observeRequest(route, reply.statusCode, code, reply.elapsedTime / 1000);
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
