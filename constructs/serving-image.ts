import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { Construct } from 'constructs';
import { ArtifactRegistryRepository } from './artifact-registry-repository';
import { dockerImage, dockerRegistryImage } from './private/cdk';
import { hashBuildContext } from './private/context-hash';
import { IMAGE_NAME } from './private/gcp-names';
import { pathFromStackDir } from './private/stack-path';
import { PropsValidator } from './private/validation';

/** Props of {@link ServingImage}. */
export interface ServingImageProps {
  /** Repository the image is pushed to. */
  readonly repository: ArtifactRegistryRepository;
  /** Build context directory, relative to `root`. */
  readonly context: string;
  /**
   * Directory `context` is relative to: the project root, where `cdktf.json` is.
   * @default process.cwd()
   */
  readonly root?: string;
  /**
   * Image name inside the repository.
   * @default "server"
   */
  readonly imageName?: string;
  /**
   * Dockerfile, relative to the build context.
   * @default "Dockerfile"
   */
  readonly dockerfile?: string;
  /**
   * Docker build arguments; part of the tag, so changing one rebuilds the image.
   * @default - none
   */
  readonly buildArgs?: Record<string, string>;
  /**
   * Target platform. Vertex AI runs containers on x86-64 machines.
   * @default "linux/amd64"
   */
  readonly platform?: string;
  /**
   * The build context's content hash. Computed from the files when omitted; pass a fixed value
   * to keep snapshot tests stable while the server's code changes.
   * @default - hashed from the context's files
   */
  readonly contextHash?: string;
}

/** Characters of the content hash used in the image tag (64 bits: collisions are not a concern). */
const TAG_HASH_LENGTH = 16;

/**
 * Builds the serving image with the Docker provider and pushes it to Artifact Registry.
 *
 * The tag is a content hash of the build context, so the plan changes exactly when the image's
 * inputs change (a new tag is a new image name, which replaces both resources); {@link imageUri} pins the pushed image by digest, so every later resource
 * refers to exactly the bytes that were pushed.
 */
export class ServingImage extends Construct {
  /** Content hash of the build context's files (64 hex characters). */
  readonly contentHash: string;
  /** The tag pushed: `ctx-` and 16 hex characters hashed from the context, Dockerfile, build arguments and platform. */
  readonly tag: string;
  /** `<repository url>/<name>:<tag>`. */
  readonly taggedUri: string;
  /** `<repository url>/<name>@sha256:...`, known after the push. */
  readonly imageUri: string;
  /** The local build. */
  readonly image: dockerImage.Image;
  /** The push. */
  readonly registryImage: dockerRegistryImage.RegistryImage;

  constructor(scope: Construct, id: string, props: ServingImageProps) {
    super(scope, id);
    const imageName = props.imageName ?? 'server';
    const platform = props.platform ?? 'linux/amd64';
    const v = new PropsValidator('ServingImage')
      .matches('imageName', imageName, IMAGE_NAME, 'a Docker image name')
      .check(!path.isAbsolute(props.context), 'context', props.context, 'a path relative to root, so plans do not depend on where the repository is checked out')
      .matches('contextHash', props.contextHash, /^[0-9a-f]{16,64}$/, 'a hex content hash');
    v.throwIfInvalid(this.node.path);

    const root = props.root ?? process.cwd();
    const buildArgs = sortKeys(props.buildArgs ?? {});
    const dockerfile = props.dockerfile ?? 'Dockerfile';
    this.contentHash = props.contextHash ?? hashBuildContext(path.resolve(root, props.context));
    const buildInputs = JSON.stringify({ context: this.contentHash, dockerfile, buildArgs, platform });
    this.tag = `ctx-${createHash('sha256').update(buildInputs).digest('hex').slice(0, TAG_HASH_LENGTH)}`;
    const repoImage = `${props.repository.repositoryUrl}/${imageName}`;
    this.taggedUri = `${repoImage}:${this.tag}`;

    this.image = new dockerImage.Image(this, 'Build', {
      name: this.taggedUri,
      platform,
      keepLocally: true,
      buildAttribute: {
        context: `\${path.module}/${pathFromStackDir(this, root, props.context)}`,
        dockerfile,
        platform,
        buildArgs,
      },
      dependsOn: [props.repository.resource],
    });
    this.registryImage = new dockerRegistryImage.RegistryImage(this, 'Push', {
      name: this.image.name,
      // Older images stay in the registry: a deployment may still run them. Cleanup policies prune.
      keepRemotely: true,
    });
    this.imageUri = `${repoImage}@${this.registryImage.sha256Digest}`;
  }
}

function sortKeys(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
}
