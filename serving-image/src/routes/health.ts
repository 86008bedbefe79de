import { type FastifyPluginAsync } from 'fastify';
import { type HealthStatus } from '../admission';

/** Options of {@link healthRoute}. */
export interface HealthRouteOptions {
  readonly url: string;
  readonly admission: { readonly health: HealthStatus };
}

/**
 * `GET <url>`: 200 only when predictions can be served, so that Vertex AI routes traffic
 * elsewhere while the model loads, while every worker is down, and once draining.
 */
export const healthRoute: FastifyPluginAsync<HealthRouteOptions> = async (app, { url, admission }) => {
  app.get(url, async (_req, reply) => {
    const status = admission.health;
    return reply.status(status === 'ready' ? 200 : 503).send({ status });
  });
};
