import { type FastifyPluginAsync } from 'fastify';
import { type ServerMetrics } from '../metrics';

/** `GET /metrics`: Prometheus text format. */
export const metricsRoute: FastifyPluginAsync<{ readonly metrics: ServerMetrics }> = async (app, { metrics }) => {
  app.get('/metrics', async (_req, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
};
