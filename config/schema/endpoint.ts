import { z } from 'zod';
import { PROJECT_ID, matching } from './common';

/** How clients reach the endpoint. */
export const ENDPOINT_ACCESS = ['public', 'dedicated', 'private-psc'] as const;

/** `endpoint:` the Vertex AI endpoint the models are deployed to. */
export const endpointSchema = z.strictObject({
  /**
   * `public`: the shared public endpoint; `dedicated`: a dedicated public endpoint (larger payloads,
   * longer timeouts); `private-psc`: Private Service Connect, reachable only from `allowedProjects`.
   */
  access: z.enum(ENDPOINT_ACCESS).default('public'),
  /** Projects allowed to connect to a `private-psc` endpoint. */
  allowedProjects: z.array(matching(PROJECT_ID, 'a GCP project id')).optional(),
  /** Lets a `production: true` environment keep a public endpoint. */
  allowPublic: z.boolean().default(false),
});

export type EndpointConfig = z.output<typeof endpointSchema>;
