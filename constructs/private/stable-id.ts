import { createHash } from 'node:crypto';

/**
 * A 10-digit decimal id (1 000 000 000 to 9 999 999 999) hashed from `text`: the same text always
 * gives the same id, on every machine. Vertex lets the caller choose endpoint ids and DeployedModel
 * ids of this form (https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.endpoints#DeployedModel).
 */
export function stableTenDigitId(text: string): string {
  const digest = createHash('sha256').update(text).digest();
  return (1_000_000_000n + (digest.readBigUInt64BE(0) % 9_000_000_000n)).toString();
}
