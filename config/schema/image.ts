import { z } from 'zod';
import { IMAGE_NAME, REPOSITORY_ID, intBetween, matching, shown, text } from './common';
import { pinnedImageProblem } from '../../rules/gcp-names';

/**
 * An image built elsewhere, pinned by digest in Artifact Registry; the same rule the PinnedImage
 * construct checks (rules/gcp-names.ts). A tag is refused: it can be moved to other bytes.
 */
export const pinnedImageUri = text('an image URI').superRefine((uri, ctx) => {
  const problem = pinnedImageProblem(uri);
  if (problem) ctx.addIssue({ code: 'custom', message: `${shown(uri)} ${problem}`, input: uri });
});

/** `image:` the Artifact Registry repository and the serving image build. */
export const imageSchema = z.strictObject({
  uri: pinnedImageUri
    .optional()
    .describe(
      'Run this image instead of building one: `LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE@sha256:<digest>`, e.g. the digest staging built and tested (its `image_uri` output). Nothing is built or pushed; a repository in another project gets a read grant for the Vertex AI service agent. Tags are refused. See Deploying for real: promoting a tested image.',
    ),
  repository: matching(REPOSITORY_ID, 'an Artifact Registry repository id')
    .default('serving')
    .describe('Artifact Registry repository id, created by the stack.'),
  name: matching(IMAGE_NAME, 'a Docker image name').default('server').describe('Image name inside the repository.'),
  context: z
    .string()
    .min(1)
    .default('serving-image')
    .describe('Docker build context, relative to the repository root; its content hash is the image tag.'),
  dockerfile: z.string().min(1).default('Dockerfile').describe('Dockerfile, relative to the build context.'),
  buildArgs: z.record(z.string(), z.string()).default({}).describe('Docker build arguments (part of the tag).'),
  keepVersions: intBetween(1, 1000).default(10).describe('Cleanup policy: the newest versions, always kept.'),
  deleteUntaggedAfterDays: intBetween(1, 3650)
    .default(7)
    .describe('Cleanup policy: untagged versions older than this are deleted (unless among the newest).'),
  deleteAfterDays: intBetween(1, 3650)
    .default(90)
    .describe(
      'Cleanup policy: any version older than this is deleted unless among the newest; keep it longer than any image an endpoint may still run.',
    ),
});

export type ImageConfig = z.output<typeof imageSchema>;
