import { performance } from 'node:perf_hooks';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  LogController,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { type Logger } from 'pino';
import { annotateImage } from './annotate';
import { className } from './class-names';
import { type ServerConfig } from './config';
import { type InferenceResult, type LoadedModel } from './engine/pool';
import { type ModelImage } from './engine/protocol';
import { ServingError, shuttingDown as shuttingDownError } from './errors';
import { errorBody, toHttpError } from './http-errors';
import { type ServerMetrics } from './metrics';
import { layoutClassCount, unletterboxBox, type DecodeOptions } from './postprocess';
import { type PreparedImage, prepareImage } from './preprocess';
import { DEFAULT_PARAMETERS, type PredictRequest, parsePredictBody } from './request';

/** What the predict route needs from the inference engine ({@link InferencePool} implements it). */
export interface Engine {
  readonly model: LoadedModel;
  /** At least one worker can take work. */
  readonly healthy: boolean;
  hasRoom(n: number): boolean;
  /** Aborting `signal` drops the image if it is still queued. */
  infer(image: ModelImage, options: DecodeOptions, signal?: AbortSignal): Promise<InferenceResult>;
}

/** One detection in a prediction. */
export interface Detection {
  readonly class: string;
  readonly class_id: number;
  readonly confidence: number;
  readonly bbox: { readonly xmin: number; readonly ymin: number; readonly xmax: number; readonly ymax: number };
}

/** One prediction, per instance. */
export interface Prediction {
  readonly detections: Detection[];
  readonly detection_count: number;
  readonly annotated_image?: string;
}

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

declare module 'fastify' {
  interface FastifyRequest {
    /** Images in the request, for the request log line. */
    instanceCount?: number;
    /** Gives back the room a predict request held while its body was arriving. */
    releaseUpload?: () => void;
  }
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
  let engine: Engine | undefined;
  let names: ReadonlyMap<number, string> = new Map();
  let shuttingDown = false;
  /** Predict requests accepted and not yet answered. */
  let active = 0;
  let idle: (() => void) | undefined;
  /**
   * Images accepted and still being decoded: they count against the queue's room too, so a
   * burst of requests cannot all pass the check and hold decoded images beyond MAX_QUEUE_SIZE.
   */
  let decoding = 0;
  /**
   * Requests admitted whose body is still arriving or being parsed: each holds at least one
   * future image and up to MAX_REQUEST_BYTES of memory, so each takes one image's room until its
   * body is parsed. Without this, any number of slow uploads could pass admission at once.
   */
  let uploading = 0;

  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.maxRequestBytes,
  });

  // Only JSON and images: anything else (fastify also parses text/plain by default) is a 415.
  app.removeContentTypeParser('text/plain');
  // Vertex rawPredict forwards the caller's body and Content-Type unchanged: take any image/* as bytes.
  app.addContentTypeParser(RAW_BODY_TYPE, { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  const predictRoute = literalRoute(config.predictRoute);
  const healthRoute = literalRoute(config.healthRoute);

  app.addHook('onResponse', async (request, reply) => {
    const url = request.routeOptions.url;
    const route = url === predictRoute ? 'predict' : url === healthRoute ? 'health' : (url ?? 'unmatched');
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
  });

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const httpError = toHttpError(err);
    if (httpError.code === 'INTERNAL') request.log.error({ err }, 'predict failed');
    // The message never holds image bytes: they are only ever in buffers, never in error text.
    else
      request.log.warn(
        { code: httpError.code, status: httpError.status, instance: httpError.instance, reason: httpError.message },
        'request refused',
      );
    if (httpError.retryAfterSeconds !== undefined)
      void reply.header('retry-after', String(httpError.retryAfterSeconds));
    return reply.status(httpError.status).send(errorBody(httpError));
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send(
      errorBody({
        status: 404,
        code: 'NOT_FOUND',
        message: `no route ${request.method} ${request.url.split('?')[0]}`,
      }),
    ),
  );

  app.get(healthRoute, async (_req, reply) => {
    if (shuttingDown) return reply.status(503).send({ status: 'shutting_down' });
    if (!engine) return reply.status(503).send({ status: 'loading' });
    // Every worker is down (being replaced, or failing to start): tell Vertex AI to route elsewhere.
    if (!engine.healthy) return reply.status(503).send({ status: 'no_worker' });
    return { status: 'ready' };
  });

  /** Refuses a prediction the server cannot take now; `images` is 1 before the body is read. */
  function admit(images: number): Engine {
    if (shuttingDown) throw shuttingDownError();
    if (!engine) throw new ServingError('NOT_READY', 'the model is still loading');
    if (!engine.healthy)
      throw new ServingError('WORKER_FAILED', 'no inference worker is ready (one is being replaced); retry');
    if (!engine.hasRoom(uploading + decoding + images)) {
      throw new ServingError('QUEUE_FULL', 'the inference queue is full (MAX_QUEUE_SIZE); retry later');
    }
    return engine;
  }

  app.post(
    predictRoute,
    {
      // Under overload, refuse before the body is read and parsed: a flood of refused multi-megabyte
      // bodies would otherwise take the CPU the inferences need.
      onRequest: async (request, reply) => {
        admit(1);
        uploading++;
        metrics.uploads.inc();
        let held = true;
        request.releaseUpload = () => {
          if (held) {
            uploading--;
            metrics.uploads.dec();
          }
          held = false;
        };
        // Also when the body never gets parsed (too large, invalid JSON: onResponse) or the client
        // goes away mid-upload (no response: the socket's close).
        reply.raw.once('close', request.releaseUpload);
      },
      onResponse: async (request) => request.releaseUpload?.(),
    },
    async (request: FastifyRequest, reply: FastifyReply) => {
      request.releaseUpload?.();
      const parsed = parseRequest(request, admit(1));
      request.instanceCount = parsed.images.length;
      // Refuse at once, before decoding anything, when the queue cannot take every image.
      const e = admit(parsed.images.length);
      active++;
      try {
        return reply.send({ predictions: await predict(e, parsed) });
      } finally {
        active--;
        if (active === 0) idle?.();
      }
    },
  );

  if (options.serveMetrics ?? true) registerMetricsRoute(app, metrics);

  function parseRequest(request: FastifyRequest, e: Engine): PredictRequest {
    if (Buffer.isBuffer(request.body)) return { images: [request.body], parameters: DEFAULT_PARAMETERS };
    return parsePredictBody(request.body, config.maxInstances, layoutClassCount(e.model.layout));
  }

  async function predict(e: Engine, req: PredictRequest): Promise<Prediction[]> {
    const { shape } = e.model;
    decoding += req.images.length;
    const prepared = await Promise.allSettled(
      req.images.map(async (bytes) => {
        const t0 = performance.now();
        const image = await prepareImage(bytes, shape.width, shape.height, config.maxImagePixels);
        metrics.preprocess.observe((performance.now() - t0) / 1000);
        return image;
      }),
    ).finally(() => (decoding -= req.images.length));
    const failed = prepared.findIndex((p) => p.status === 'rejected');
    if (failed >= 0) {
      const reason = (prepared[failed] as PromiseRejectedResult).reason;
      throw reason instanceof ServingError ? reason.at(failed) : reason;
    }
    const images = prepared.map((p) => (p as PromiseFulfilledResult<PreparedImage>).value);
    const { parameters: p } = req;
    const decode: DecodeOptions = {
      confidence: p.confidence,
      iou: p.iou,
      maxDetections: p.maxDetections,
      classes: p.classes,
    };
    // The first image that fails (429, 503 timeout, worker failure) answers the request: drop the
    // request's other images still queued rather than infer them for nobody.
    const abandon = new AbortController();
    const results = await Promise.all(
      images.map((img, i) =>
        e.infer(img, decode, abandon.signal).catch((err: unknown) => {
          abandon.abort(new ServingError('QUEUE_TIMEOUT', 'dropped: another image of the request failed'));
          return Promise.reject(err instanceof ServingError && err.code === 'QUEUE_FULL' ? err.at(i) : err);
        }),
      ),
    );
    return Promise.all(
      results.map(async (r, i) => {
        const img = images[i];
        const detections = r.detections.map((d) => {
          const b = unletterboxBox(d.box, img.letterbox, img.width, img.height);
          return {
            class: className(names, d.classId),
            class_id: d.classId,
            confidence: round(d.confidence, 4),
            bbox: { xmin: round(b.xmin, 2), ymin: round(b.ymin, 2), xmax: round(b.xmax, 2), ymax: round(b.ymax, 2) },
          };
        });
        const prediction: Prediction = { detections, detection_count: detections.length };
        if (!p.returnAnnotatedImage) return prediction;
        const drawn = detections.map((d) => ({
          label: d.class,
          classId: d.class_id,
          confidence: d.confidence,
          bbox: d.bbox,
        }));
        return {
          ...prediction,
          annotated_image: await annotateImage(req.images[i], img.width, img.height, drawn, config.maxImagePixels),
        };
      }),
    );
  }

  return {
    app,
    setReady(e, classNames) {
      engine = e;
      names = classNames;
    },
    drain() {
      shuttingDown = true;
      return active === 0 ? Promise.resolve() : new Promise((resolve) => (idle = resolve));
    },
  };
}

/** Adds `GET /metrics` (Prometheus text format) to an app. */
export function registerMetricsRoute(app: FastifyInstance, metrics: ServerMetrics): void {
  app.get('/metrics', async (_req, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
