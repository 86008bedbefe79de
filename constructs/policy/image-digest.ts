import { type IConstruct } from 'constructs';
import { type IAspect, TerraformStack, resolveTokens } from '../cdk';
import { VertexModel } from '../vertex/model';
import { reportViolation } from './violation';

/**
 * Whether an image reference names its bytes: `...@sha256:<64 hex>`, or `...@` followed by the
 * digest a Terraform resource reports (e.g. `${docker_registry_image.x.sha256_digest}`).
 */
export function isDigestReference(imageUri: string): boolean {
  return /@sha256:[0-9a-f]{64}$/.test(imageUri) || /@\$\{[^}]+\.(sha256_)?digest\}$/.test(imageUri);
}

/**
 * Every model version must run its serving image by digest, not by tag: a tag can be moved to
 * other bytes, and Vertex pulls the image again whenever it starts a replica, so a tag would let
 * an autoscaled replica run different code from its siblings (and from what the plan showed).
 */
export class ImageDigestAspect implements IAspect {
  visit(node: IConstruct): void {
    if (!(node instanceof VertexModel)) return;
    const uri = node.spec.containerSpec.imageUri;
    if (typeof uri !== 'string') return;
    const resolved = String(resolveTokens(TerraformStack.of(node), uri));
    if (isDigestReference(resolved)) return;
    reportViolation(
      node,
      'image-digest',
      `model ${node.key} (${node.node.path}) runs the image ${resolved}, referenced by tag instead of digest`,
      'pass a ServingImage, whose `imageUri` is pinned by digest (`...@sha256:...`), or a PinnedImage of an image URI ending in `@sha256:<digest>`',
    );
  }
}
