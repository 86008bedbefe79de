import { createHash } from 'node:crypto';
import { Construct } from 'constructs';
import { type TerraformResource, TerraformStack, artifactRegistryRepositoryIamMember } from '../cdk';
import { type PinnedImageParts, pinnedImageParts, pinnedImageProblem } from '../../rules/gcp-names';
import { vertexServiceAgentMember } from '../private/vertex-service-agent';
import { PropsValidator } from '../private/validation';

/**
 * The image a model version runs, pinned by digest: {@link ServingImage} (built and pushed by the
 * stack) and {@link PinnedImage} (built elsewhere, e.g. the digest another environment tested)
 * both are one, so a model takes either.
 */
export interface IServingImage {
  /** `<repository>/<name>@sha256:...`; a token until the push when the stack builds the image. */
  readonly imageUri: string;
  /**
   * A reference known at synth that changes exactly when the image's bytes do: the model's
   * fingerprint hashes it (a content tag for a built image, the digest reference for a pinned one).
   */
  readonly synthUri: string;
  /**
   * Lets the Vertex AI service agent of `project` pull the image, when it cannot already; returns
   * the grant, which a deployment must wait for, or undefined when none is needed.
   */
  grantVertexPull(project: string): TerraformResource | undefined;
}

/** Props of {@link PinnedImage}. */
export interface PinnedImageProps {
  /**
   * The image, pinned by digest in Artifact Registry:
   * `LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE@sha256:<64 hex>`. A tag (`:v3`), alone or
   * next to the digest, is refused: a tag can move to other bytes.
   */
  readonly uri: string;
}

/**
 * An image the stack runs but does not build: another environment's tested build promoted as is,
 * or a server version a canary runs while the other models stay on theirs. Nothing is pushed; the
 * plan carries the digest literally, so `cdktf diff` shows which bytes a model runs.
 *
 * Vertex AI pulls the image with the serving project's Vertex AI service agent, which may read
 * repositories of its own project only: for an image in another project, {@link grantVertexPull}
 * gives it `roles/artifactregistry.reader` on that one repository
 * (https://cloud.google.com/vertex-ai/docs/reference/rest/v1/ModelContainerSpec, `imageUri`).
 */
export class PinnedImage extends Construct implements IServingImage {
  readonly imageUri: string;
  readonly synthUri: string;
  /** The repository the image is in. */
  readonly repository: PinnedImageParts;
  private readonly grants = new Map<string, TerraformResource>();

  /** The stack's one PinnedImage of `uri`, created at its root the first time it is asked for. */
  static of(scope: Construct, uri: string): PinnedImage {
    const stack = TerraformStack.of(scope);
    // Keyed on the URI, not on where it appears: moving a model entry keeps the grant's address.
    const id = `pinned-image-${createHash('sha256').update(uri).digest('hex').slice(0, 16)}`;
    return (stack.node.tryFindChild(id) as PinnedImage | undefined) ?? new PinnedImage(stack, id, { uri });
  }

  constructor(scope: Construct, id: string, props: PinnedImageProps) {
    super(scope, id);
    const problem = pinnedImageProblem(props.uri);
    const v = new PropsValidator('PinnedImage');
    if (problem) v.fail('uri', `${JSON.stringify(props.uri)} ${problem}`);
    v.throwIfInvalid(this.node.path);
    this.imageUri = props.uri;
    this.synthUri = props.uri;
    this.repository = pinnedImageParts(props.uri) as PinnedImageParts;
  }

  grantVertexPull(project: string): TerraformResource | undefined {
    if (project === this.repository.project) return undefined;
    const existing = this.grants.get(project);
    if (existing) return existing;
    const grant = new artifactRegistryRepositoryIamMember.ArtifactRegistryRepositoryIamMember(
      this,
      `VertexPull-${project}`,
      {
        project: this.repository.project,
        location: this.repository.location,
        repository: this.repository.repository,
        role: 'roles/artifactregistry.reader',
        member: vertexServiceAgentMember(this, project),
      },
    );
    this.grants.set(project, grant);
    return grant;
  }
}
