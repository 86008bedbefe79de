import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { Construct } from 'constructs';
import { type ArtifactRegistryRepository } from './artifact-registry-repository';
import { type IServingImage } from './pinned-image';
import { DataResource, type TerraformResource, dataDockerRegistryImage } from '../cdk';
import { vertexServiceAgentMember } from '../private/vertex-service-agent';
import { hashBuildContext } from '../private/context-hash';
import { IMAGE_NAME } from '../../rules/gcp-names';
import { pathFromStackDir } from '../private/stack-path';
import { PropsValidator } from '../private/validation';

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
 * Builds the serving image and pushes it to Artifact Registry.
 *
 * The tag is a content hash of the build inputs (context files, Dockerfile, build arguments,
 * platform), so the plan shows a push exactly when the image's inputs change. The push is a
 * `terraform_data` whose replacement runs `constructs/private/push-image.sh` (`docker build` and
 * `docker push`, skipped when the registry already has the tag); the Docker provider's
 * `docker_image` is not used because it plans a rebuild on every machine that lacks the image
 * locally (kreuzwerker/terraform-provider-docker#571). The Docker provider's
 * `docker_registry_image` data source then reads the pushed digest, and {@link imageUri} pins the
 * image by it, so every later resource refers to exactly the bytes that were pushed.
 */
export class ServingImage extends Construct implements IServingImage {
  /** Content hash of the build context's files (64 hex characters). */
  readonly contentHash: string;
  /** The tag pushed: `ctx-` and 16 hex characters hashed from the context, Dockerfile, build arguments and platform. */
  readonly tag: string;
  /** `<repository url>/<name>:<tag>`. */
  readonly taggedUri: string;
  /** `<repository url>/<name>@sha256:...`, known once the image is in the registry. */
  readonly imageUri: string;
  /** The build and push (`terraform_data`; replaced when {@link tag} changes). */
  readonly push: DataResource;
  /** The pushed image's registry entry, with its digest. */
  readonly registryImage: dataDockerRegistryImage.DataDockerRegistryImage;
  private readonly repository: ArtifactRegistryRepository;
  private readonly pullGrants = new Map<string, TerraformResource>();

  constructor(scope: Construct, id: string, props: ServingImageProps) {
    super(scope, id);
    const imageName = props.imageName ?? 'server';
    const platform = props.platform ?? 'linux/amd64';
    new PropsValidator('ServingImage')
      .matches('imageName', imageName, IMAGE_NAME, 'a Docker image name')
      .check(
        !path.isAbsolute(props.context),
        'context',
        props.context,
        'a path relative to root, so plans do not depend on where the repository is checked out',
      )
      .matches('contextHash', props.contextHash, /^[0-9a-f]{16,64}$/, 'a hex content hash')
      .throwIfInvalid(this.node.path);

    this.repository = props.repository;
    const root = props.root ?? process.cwd();
    const buildArgs = sortKeys(props.buildArgs ?? {});
    const dockerfile = props.dockerfile ?? 'Dockerfile';
    this.contentHash = props.contextHash ?? hashBuildContext(path.resolve(root, props.context));
    const buildInputs = JSON.stringify({ context: this.contentHash, dockerfile, buildArgs, platform });
    this.tag = `ctx-${createHash('sha256').update(buildInputs).digest('hex').slice(0, TAG_HASH_LENGTH)}`;
    const repoImage = `${props.repository.repositoryUrl}/${imageName}`;
    this.taggedUri = `${repoImage}:${this.tag}`;

    // No destroy-time action: older images stay in the registry, since a deployment may still
    // run them; the repository's cleanup policies prune them.
    this.push = new DataResource(this, 'Push', {
      triggersReplace: { image: this.taggedUri },
      provisioners: [
        {
          type: 'local-exec',
          command: `sh \${path.module}/${pathFromStackDir(this, root, 'constructs/private/push-image.sh')}`,
          environment: {
            IMAGE: this.taggedUri,
            CONTEXT: `\${path.module}/${pathFromStackDir(this, root, props.context)}`,
            DOCKERFILE: dockerfile,
            PLATFORM: platform,
            REGISTRY: props.repository.registryHost,
            BUILD_ARGS: Object.entries(buildArgs)
              .map(([k, v]) => `${k}=${v}`)
              .join('\n'),
          },
        },
      ],
      dependsOn: [props.repository.resource],
    });
    this.registryImage = new dataDockerRegistryImage.DataDockerRegistryImage(this, 'Pushed', {
      name: this.taggedUri,
      dependsOn: [this.push],
    });
    this.imageUri = `${repoImage}@${this.registryImage.sha256Digest}`;
  }

  /** {@link taggedUri}: the content tag is known at synth and changes exactly when the pushed bytes do. */
  get synthUri(): string {
    return this.taggedUri;
  }

  /**
   * Nothing for the repository's own project, whose Vertex AI service agent may pull already;
   * `roles/artifactregistry.reader` on the repository for another project's.
   */
  grantVertexPull(project: string): TerraformResource | undefined {
    if (project === this.repository.project) return undefined;
    const grant =
      this.pullGrants.get(project) ??
      this.repository.grantRead(vertexServiceAgentMember(this, project), `VertexPull-${project}`);
    this.pullGrants.set(project, grant);
    return grant;
  }
}

function sortKeys(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
}
