import { z } from 'zod';
import { BIGQUERY_URI, ENDPOINT_ID, KMS_KEY_NAME } from '../../constructs/private/vertex-rules';
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
  /** Numeric endpoint id (1 to 10 digits); derived from the project, region and stack when absent. */
  endpointId: matching(ENDPOINT_ID, 'an endpoint id of 1 to 10 digits without a leading zero').optional(),
  /** Request/response logging to BigQuery. */
  requestLogging: z
    .strictObject({
      /** `bq://project`, `bq://project.dataset` or `bq://project.dataset.table`. */
      bigqueryUri: matching(BIGQUERY_URI, 'a BigQuery URI such as bq://project.dataset'),
      /** Fraction of requests logged, (0, 1]. */
      samplingRate: z.number().gt(0).max(1).default(1),
    })
    .optional(),
  /** Cloud KMS key protecting the endpoint (CMEK). */
  kmsKeyName: matching(KMS_KEY_NAME, 'a Cloud KMS key name').optional(),
  /** Lets a `production: true` environment keep a public endpoint. */
  allowPublic: z.boolean().default(false),
});

export type EndpointConfig = z.output<typeof endpointSchema>;
