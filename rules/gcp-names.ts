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
/** An IAM member naming one identity or group: `user:`, `serviceAccount:` or `group:` and an email. */
export const IAM_MEMBER = /^(user|serviceAccount|group):[^\s@:]+@[^\s@]+\.[^\s@]+$/;
/** Service account ids: https://cloud.google.com/iam/docs/service-accounts-create#creating */
export const ACCOUNT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;

/**
 * An Artifact Registry image pinned by digest, `LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE@sha256:<64 hex>`:
 * the form a model may run an image built elsewhere in (another environment's tested build, a canary).
 */
export const PINNED_IMAGE =
  /^(?<location>[a-z][a-z0-9-]*[a-z0-9])-docker\.pkg\.dev\/(?<project>[a-z][a-z0-9-]{4,28}[a-z0-9])\/(?<repository>[a-z]([a-z0-9-]{0,61}[a-z0-9])?)\/(?<image>[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*)@sha256:[0-9a-f]{64}$/;

/** The parts of a {@link PINNED_IMAGE} URI. */
export interface PinnedImageParts {
  readonly location: string;
  readonly project: string;
  readonly repository: string;
  readonly image: string;
}

/** The location, project, repository and image of a {@link PINNED_IMAGE} URI; undefined for any other string. */
export function pinnedImageParts(uri: string): PinnedImageParts | undefined {
  const g = PINNED_IMAGE.exec(uri)?.groups;
  return g ? { location: g.location, project: g.project, repository: g.repository, image: g.image } : undefined;
}

/**
 * Why `uri` is not an image pinned by digest in Artifact Registry, in words naming the fix; undefined
 * when it is one. Shared by the stacks.yaml schema and the PinnedImage construct.
 */
export function pinnedImageProblem(uri: string): string | undefined {
  if (PINNED_IMAGE.test(uri)) return undefined;
  const at = uri.lastIndexOf('@');
  const name = at < 0 ? uri : uri.slice(0, at);
  const lastPart = name.slice(name.lastIndexOf('/') + 1);
  if (at < 0) {
    return lastPart.includes(':')
      ? `is pinned by tag only: a tag can be moved to other bytes, so what runs could differ from what was tested; give the digest instead (${name.slice(0, name.length - lastPart.length)}${lastPart.split(':')[0]}@sha256:<64 hex>; \`docker buildx imagetools inspect ${uri}\` prints it)`
      : 'names no digest: append @sha256:<64 hex> (`docker buildx imagetools inspect` prints it)';
  }
  if (lastPart.includes(':')) {
    return `has both a tag and a digest: drop the tag (${lastPart.slice(lastPart.indexOf(':'))}); the digest alone says what runs, and it is what \`cdktf diff\` shows`;
  }
  if (!/^sha256:[0-9a-f]{64}$/.test(uri.slice(at + 1))) {
    return `has the digest ${uri.slice(at + 1)}, not sha256: and 64 lowercase hex digits`;
  }
  if (!/^[a-z0-9-]+-docker\.pkg\.dev\//.test(uri)) {
    return "is not in Artifact Registry (LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE@sha256:...): Vertex AI pulls serving images from Artifact Registry, with the project's Vertex AI service agent";
  }
  return 'is not LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE@sha256:<64 hex>';
}
