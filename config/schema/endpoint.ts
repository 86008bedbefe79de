import { z } from 'zod';
import { BIGQUERY_URI, ENDPOINT_ACCESS, ENDPOINT_ID, KMS_KEY_NAME } from '../../rules/vertex';
import { PROJECT_ID, matching } from './common';

/** `endpoint:` the Vertex AI endpoint the models are deployed to. */
export const endpointSchema = z.strictObject({
  access: z
    .enum(ENDPOINT_ACCESS)
    .default('public')
    .describe(
      '`public`: the shared public endpoint; `dedicated`: a dedicated public DNS name (larger payloads, longer timeouts); `private-psc`: Private Service Connect, reachable only from `allowedProjects`.',
    ),
  allowedProjects: z
    .array(matching(PROJECT_ID, 'a GCP project id'))
    .optional()
    .describe(
      'Projects allowed to connect to a `private-psc` endpoint (required and non-empty there, refused elsewhere).',
    ),
  endpointId: matching(ENDPOINT_ID, 'an endpoint id of 1 to 9 digits without a leading zero')
    .optional()
    .describe(
      "Numeric endpoint id, 1 to 9 digits (Vertex's limit for a numeric id); derived from the project, region and stack when absent.",
    ),
  requestLogging: z
    .strictObject({
      bigqueryUri: matching(BIGQUERY_URI, 'a BigQuery URI such as bq://project.dataset').describe(
        '`bq://project`, `bq://project.dataset` or `bq://project.dataset.table`.',
      ),
      samplingRate: z.number().gt(0).max(1).default(1).describe('Fraction of requests logged.'),
    })
    .optional()
    .describe('Request/response logging to BigQuery.'),
  kmsKeyName: matching(KMS_KEY_NAME, 'a Cloud KMS key name')
    .optional()
    .describe('Cloud KMS key protecting the endpoint (CMEK).'),
  identity: matching(/^[0-9a-f]{16}$/, 'a fingerprint of 16 hex digits')
    .optional()
    .describe(
      'Acknowledges the settings whose change replaces the endpoint (project, region, `access`, `kmsKeyName`, `endpointId`, and the environment name while `endpointId` is derived): their fingerprint. Required when `production: true`, checked whenever set: synthesis fails when it no longer matches, naming the value to write once the replacement (a new endpoint id, and an outage until the models are deployed again) is intended. See docs/operations.md.',
    ),
  allowPublic: z
    .boolean()
    .default(false)
    .describe('Lets a `production: true` environment keep a `public` or `dedicated` endpoint.'),
});

export type EndpointConfig = z.output<typeof endpointSchema>;
