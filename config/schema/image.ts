import { z } from 'zod';
import { IMAGE_NAME, REPOSITORY_ID, intBetween, matching } from './common';

/** `image:` the Artifact Registry repository and the serving image build. */
export const imageSchema = z.strictObject({
  /** Artifact Registry repository id, created by the stack. */
  repository: matching(REPOSITORY_ID, 'an Artifact Registry repository id').default('serving'),
  /** Image name inside the repository. */
  name: matching(IMAGE_NAME, 'a Docker image name').default('server'),
  /** Docker build context, relative to the repository root. */
  context: z.string().min(1).default('serving-image'),
  /** Dockerfile path, relative to the build context. */
  dockerfile: z.string().min(1).default('Dockerfile'),
  /** Docker build arguments. */
  buildArgs: z.record(z.string(), z.string()).default({}),
  /** Cleanup policy: the newest versions always kept. */
  keepVersions: intBetween(1, 1000).default(10),
  /** Cleanup policy: untagged versions older than this many days are deleted. */
  deleteUntaggedAfterDays: intBetween(1, 3650).default(7),
  /** Cleanup policy: versions older than this many days, and not among the newest `keepVersions`, are deleted. */
  deleteAfterDays: intBetween(1, 3650).default(90),
});

export type ImageConfig = z.output<typeof imageSchema>;
