import { createHash } from 'node:crypto';

/**
 * A decimal id of exactly `digits` digits (no leading zero) hashed from `text`: the first 8 bytes
 * of its SHA-256, reduced into the range, so the same text gives the same id on every machine.
 * Vertex lets the caller choose numeric ids: DeployedModel ids of 1 to 10 digits
 * (https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.endpoints#DeployedModel)
 * and endpoint ids of at most 9 (CreateEndpointRequest.endpoint_id,
 * https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.endpoints/create).
 */
export function stableDecimalId(text: string, digits: 9 | 10): string {
  const lowest = 10n ** BigInt(digits - 1);
  const hashed = createHash('sha256').update(text).digest().readBigUInt64BE(0);
  return (lowest + (hashed % (9n * lowest))).toString();
}
