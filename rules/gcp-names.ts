/**
 * Formats of GCP names, shared by the constructs' prop validation and the stacks.yaml schema
 * so both accept exactly the same values.
 */

/** Label keys: https://cloud.google.com/resource-manager/docs/labels-overview#requirements */
export const LABEL_KEY = /^[a-z][a-z0-9_-]{0,62}$/;
/** Label values: lowercase letters, digits, `_` and `-`, at most 63 characters (may be empty). */
export const LABEL_VALUE = /^[a-z0-9_-]{0,63}$/;
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
