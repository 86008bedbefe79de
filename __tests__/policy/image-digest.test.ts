import { type IServingImage, ImageDigestAspect, PinnedImage, isDigestReference } from '../../constructs';
import { VertexModel } from '../../constructs/vertex/model';
import { deploymentOn, endpointIn } from '../monitoring/fixtures';
import { policyErrors, stackWithAspect } from './helpers';

describe('ImageDigestAspect', () => {
  test('fires on a model whose image is referenced by tag', () => {
    // GIVEN a model given an image by tag (ServingImage and PinnedImage never are, so a stand-in plays it)
    const stack = stackWithAspect(new ImageDigestAspect());
    const tagged = 'us-central1-docker.pkg.dev/acme-ml-dev/serving/server:latest';
    new VertexModel(stack, 'model', {
      project: 'acme-ml-dev',
      region: 'us-central1',
      modelId: 'yolo26n',
      versionAlias: 'v3',
      image: { imageUri: tagged, synthUri: tagged, grantVertexPull: () => undefined } satisfies IServingImage,
    });
    // WHEN
    const errors = policyErrors(stack);
    // THEN
    expect(errors).toEqual([
      `[stack/model] [policy image-digest] model yolo26n@v3 (stack/model) runs the image ${tagged}, referenced by tag instead of digest. ` +
        'Fix: pass a ServingImage, whose `imageUri` is pinned by digest (`...@sha256:...`), or a PinnedImage of an image URI ending in `@sha256:<digest>`',
    ]);
  });

  test('passes a model built from a ServingImage (pinned to the pushed digest)', () => {
    // GIVEN
    const stack = stackWithAspect(new ImageDigestAspect());
    const deployment = deploymentOn(stack, endpointIn(stack));
    // THEN
    expect(deployment.model.spec.containerSpec.imageUri).toMatch(/@\$\{TfToken/);
    expect(policyErrors(stack)).toEqual([]);
  });

  test('passes a model given a PinnedImage (an image built elsewhere, pinned by digest)', () => {
    // GIVEN
    const stack = stackWithAspect(new ImageDigestAspect());
    const uri = `us-central1-docker.pkg.dev/acme-ml-staging/serving/server@sha256:${'b'.repeat(64)}`;
    new VertexModel(stack, 'model', {
      project: 'acme-ml-dev',
      region: 'us-central1',
      modelId: 'yolo26n',
      versionAlias: 'v4',
      image: PinnedImage.of(stack, uri),
    });
    // THEN
    expect(policyErrors(stack)).toEqual([]);
  });

  test.each([
    [`r/server@sha256:${'a'.repeat(64)}`, true],
    ['r/server@${docker_registry_image.image_Push_1.sha256_digest}', true],
    ['r/server:v3', false],
    ['r/server:v3@sha256:short', false],
    ['r/server', false],
  ])('isDigestReference(%s) is %s', (uri, expected) => {
    // THEN
    expect(isDigestReference(uri)).toBe(expected);
  });
});
