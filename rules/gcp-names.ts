/**
 * Formats of GCP names, shared by the constructs' prop validation and the stacks.yaml schema
 * so both accept exactly the same values.
 */

/**
 * Label keys (https://cloud.google.com/resource-manager/docs/labels-overview#requirements): 1 to 63
 * characters, lowercase letters (international ones too: `\p{Ll}`, and letters without case such as
 * CJK: `\p{Lo}`), digits, `_` and `-`, starting with a lowercase or international letter.
 */
export const LABEL_KEY = /^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$/u;
/** Label values: the same characters as keys, 0 to 63 of them, starting with any. */
export const LABEL_VALUE = /^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$/u;
/** Keys and values are each under 128 bytes in UTF-8, and a resource takes at most 64 labels (same page). */
export const LABEL_LIMITS = { maxBytes: 127, maxLabels: 64 } as const;
/** The label rules in words, for messages. */
export const LABEL_RULE =
  'lowercase letters (international letters allowed), digits, _ and -, at most 63 characters; keys start with a letter (https://cloud.google.com/resource-manager/docs/labels-overview#requirements)';
/** Project ids: 6 to 30 characters, lowercase letters, digits and hyphens, starting with a letter. */
export const PROJECT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
/** Region names such as `us-central1` or `northamerica-northeast1`. */
export const REGION = /^[a-z]+-[a-z]+[0-9]+$/;
/** Artifact Registry repository ids: https://cloud.google.com/artifact-registry/docs/repositories/create-repos */
export const REPOSITORY_ID = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** Docker image names (one path component): lowercase alphanumerics separated by `.`, `_` or `-`. */
export const IMAGE_NAME = /^[a-z0-9]+([._-][a-z0-9]+)*$/;
/** Cloud Storage bucket names: https://cloud.google.com/storage/docs/buckets#naming */
export const BUCKET_NAME = /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/;
/** `gs://bucket[/path]`: a bucket name (up to 222 characters when it has dots), then any object path. */
export const GCS_URI = /^gs:\/\/[a-z0-9][a-z0-9._-]{1,221}[a-z0-9](\/.*)?$/;
/** Service account ids: https://cloud.google.com/iam/docs/service-accounts-create#creating */
export const ACCOUNT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
