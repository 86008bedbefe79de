import { type Socket } from 'node:net';
import { type FastifyPluginAsync } from 'fastify';
import { type Admission } from '../admission';
import { type Predictor } from '../predictor';
import { DEFAULT_PARAMETERS, type PredictRequest, parsePredictBody } from '../request';

declare module 'fastify' {
  interface FastifyRequest {
    /** Images in the request, for the request log line. */
    instanceCount?: number;
    /** Error code of the answer (http-errors.ts), for the request metrics; unset for a success. */
    errorCode?: string;
    /** Gives back the room a predict request held while its body was arriving. */
    releaseUpload?: () => void;
  }
}

/** Options of {@link predictRoute}. */
export interface PredictRouteOptions {
  readonly url: string;
  readonly maxInstances: number;
  readonly admission: Admission<Predictor>;
  /** Ends a request whose body is still arriving, to give its upload slot to a newer one. */
  readonly cutUpload: (socket: Socket) => void;
}

/** `POST <url>`: a JSON body of base64 instances, or one raw image (Vertex rawPredict). */
export const predictRoute: FastifyPluginAsync<PredictRouteOptions> = async (app, options) => {
  const { url, maxInstances, admission, cutUpload } = options;
  app.post(
    url,
    {
      // Under overload, refuse before the body is read and parsed: a flood of refused multi-megabyte
      // bodies would otherwise take the CPU the inferences need.
      onRequest: async (request, reply) => {
        // Cut (408, connection closed) when newer uploads need the slot of this one, still
        // arriving after a while: a stalled client then cannot keep the slot until BODY_TIMEOUT_MS.
        request.releaseUpload = admission.holdUpload(() => cutUpload(request.raw.socket));
        // Also when the body never gets parsed (too large, invalid JSON: onResponse) or the client
        // goes away mid-upload (no response: the socket's close).
        reply.raw.once('close', request.releaseUpload);
      },
      onResponse: async (request) => request.releaseUpload?.(),
    },
    async (request, reply) => {
      request.releaseUpload?.();
      // Admitted again: the server may have started draining, or lost its workers, during the upload.
      const parsed = parseBody(request.body, admission.admit(1).classCount, maxInstances);
      request.instanceCount = parsed.images.length;
      // Refused at once, before decoding anything, when the queue cannot take every image.
      return admission.run(parsed.images.length, async (predictor, decoded) =>
        reply.send({ predictions: await predictor.predict(parsed, decoded) }),
      );
    },
  );
};

function parseBody(body: unknown, classCount: number | undefined, maxInstances: number): PredictRequest {
  if (Buffer.isBuffer(body)) return { images: [body], parameters: DEFAULT_PARAMETERS };
  return parsePredictBody(body, maxInstances, classCount);
}
