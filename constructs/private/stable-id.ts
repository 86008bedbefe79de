import { createHash } from 'node:crypto';

/** A number hashed from `text`, the same on every machine: the first 8 bytes of its SHA-256. */
function hashed(text: string): bigint {
  return createHash('sha256').update(text).digest().readBigUInt64BE(0);
}

/**
 * A 10-digit decimal id (1 000 000 000 to 9 999 999 999) hashed from `text`: the same text always
 * gives the same id. DeployedModel ids may have 1 to 10 digits
 * (https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.endpoints#DeployedModel).
 */
export function stableTenDigitId(text: string): string {
  return (1_000_000_000n + (hashed(text) % 9_000_000_000n)).toString();
}

/**
 * A 9-digit decimal id (100 000 000 to 999 999 999) hashed from `text`. A numeric endpoint id may
 * have at most 9 digits, without a leading zero (CreateEndpointRequest.endpoint_id,
 * https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.endpoints/create).
 */
export function stableNineDigitId(text: string): string {
  return (100_000_000n + (hashed(text) % 900_000_000n)).toString();
}
