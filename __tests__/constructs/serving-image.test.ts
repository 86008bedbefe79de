import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Testing, TerraformStack } from 'cdktf';
import { DataDockerRegistryImage } from '@cdktf/provider-docker/lib/data-docker-registry-image';
import { ArtifactRegistryRepository, ServingImage, type ServingImageProps } from '../../constructs';
import { hashBuildContext } from '../../constructs/private/context-hash';
import { PINNED_CONTEXT_HASH } from '../helpers/synth';

function newImage(props: Partial<ServingImageProps> = {}): { image: ServingImage; synthesized: string } {
  let image!: ServingImage;
  const synthesized = Testing.synthScope((scope) => {
    const repository = new ArtifactRegistryRepository(scope, 'repo', {
      repositoryId: 'serving',
      location: 'europe-west4',
      project: 'acme-ml-prod',
    });
    image = new ServingImage(scope, 'image', {
      repository,
      context: 'serving-image',
      contextHash: PINNED_CONTEXT_HASH,
      ...props,
    });
  });
  return { image, synthesized };
}

/** A scratch build context with a Dockerfile, a source file and a .dockerignore. */
function scratchContext(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ctx-'));
  writeFileSync(path.join(dir, 'Dockerfile'), 'FROM scratch\nCOPY . /app\n');
  writeFileSync(path.join(dir, '.dockerignore'), '*.md\n!KEEP.md\nscratch/\n');
  mkdirSync(path.join(dir, 'src'));
  writeFileSync(path.join(dir, 'src', 'main.ts'), 'console.log(1);\n');
  return dir;
}

describe('ServingImage', () => {
  test('pushes the content-hash tag with a terraform_data replaced only when the tag changes', () => {
    // WHEN
    const { image, synthesized } = newImage({ buildArgs: { B: '2', A: '1' } });
    // THEN
    expect(image.tag).toMatch(/^ctx-[0-9a-f]{16}$/);
    const push = Object.values(JSON.parse(synthesized).resource.terraform_data as Record<string, any>)[0];
    expect(push.triggers_replace).toEqual({
      image: `europe-west4-docker.pkg.dev/acme-ml-prod/serving/server:${image.tag}`,
    });
    expect(push.provisioner).toEqual([
      {
        'local-exec': {
          command: 'sh ${path.module}/../../../constructs/private/push-image.sh',
          environment: {
            IMAGE: image.taggedUri,
            CONTEXT: '${path.module}/../../../serving-image',
            DOCKERFILE: 'Dockerfile',
            PLATFORM: 'linux/amd64',
            REGISTRY: 'europe-west4-docker.pkg.dev',
            BUILD_ARGS: 'A=1\nB=2',
          },
        },
      },
    ]);
    expect(push.depends_on).toEqual([expect.stringMatching(/^google_artifact_registry_repository\./)]);
  });

  test('reads the pushed digest after the push and pins the image URI by it', () => {
    // WHEN
    const { image, synthesized } = newImage();
    // THEN
    expect(synthesized).toHaveDataSourceWithProperties(DataDockerRegistryImage, {
      name: image.taggedUri,
      depends_on: [expect.stringMatching(/^terraform_data\./)],
    });
    expect(image.imageUri).toMatch(
      /^europe-west4-docker\.pkg\.dev\/acme-ml-prod\/serving\/server@\$\{TfToken\[TOKEN\.\d+\]\}$/,
    );
    expect(image.taggedUri).toBe(`europe-west4-docker.pkg.dev/acme-ml-prod/serving/server:${image.tag}`);
  });

  test('without a token, leaves registry login to the Docker CLI', () => {
    const { synthesized } = newImage();
    expect(synthesized).not.toContain('REGISTRY_TOKEN');
  });

  test('names the build context and script relative to the stack directory, never absolutely', () => {
    const { synthesized } = newImage();
    expect(synthesized).toContain('"CONTEXT": "${path.module}/../../../serving-image"');
    expect(synthesized).not.toContain(process.cwd());
  });

  test('build arguments, Dockerfile and platform are part of the tag', () => {
    const plain = newImage().image.tag;
    expect(newImage({ buildArgs: { VARIANT: 'cpu' } }).image.tag).not.toBe(plain);
    expect(newImage({ dockerfile: 'Dockerfile.cpu' }).image.tag).not.toBe(plain);
    expect(newImage({ platform: 'linux/arm64' }).image.tag).not.toBe(plain);
    expect(newImage().image.tag).toBe(plain);
  });

  test('hashes the build context when no hash is given', () => {
    // GIVEN
    const root = path.dirname(scratchContext());
    const context = path.basename(mkdtempSync(path.join(root, 'ctx-')));
    writeFileSync(path.join(root, context, 'Dockerfile'), 'FROM scratch\n');
    // WHEN
    const { image } = newImage({ root, context, contextHash: undefined });
    // THEN
    expect(image.contentHash).toBe(hashBuildContext(path.join(root, context)));
  });

  test('rejects an absolute context, a bad image name and a malformed hash, all at once', () => {
    expect(() => newImage({ context: '/abs/serving-image', imageName: 'Server!', contextHash: 'xyz' })).toThrow(
      /imageName: "Server!" is not allowed[\s\S]*context: "\/abs\/serving-image" is not allowed[\s\S]*contextHash: "xyz" is not allowed/,
    );
  });

  test('outside the default out dir, the context path follows the app out dir', () => {
    // GIVEN an app whose outdir is inside the project root
    const root = mkdtempSync(path.join(tmpdir(), 'root-'));
    mkdirSync(path.join(root, 'out', 'plans'), { recursive: true });
    const app = Testing.app({ outdir: path.join(root, 'out', 'plans') });
    const stack = new TerraformStack(app, 'dev');
    const repository = new ArtifactRegistryRepository(stack, 'repo', {
      repositoryId: 'r',
      location: 'us-central1',
      project: 'acme-ml-dev',
    });
    // WHEN
    new ServingImage(stack, 'image', { repository, context: 'srv', root, contextHash: PINNED_CONTEXT_HASH });
    // THEN
    expect(Testing.synth(stack)).toContain('"CONTEXT": "${path.module}/../../../../srv"');
  });
});

describe('build context hash', () => {
  test('is stable for the same files, wherever they are', () => {
    expect(hashBuildContext(scratchContext())).toBe(hashBuildContext(scratchContext()));
  });

  test('changes when a file in the context changes', () => {
    const dir = scratchContext();
    const before = hashBuildContext(dir);
    writeFileSync(path.join(dir, 'src', 'main.ts'), 'console.log(2);\n');
    expect(hashBuildContext(dir)).not.toBe(before);
  });

  test('changes when a file is added, or becomes executable', () => {
    const dir = scratchContext();
    const before = hashBuildContext(dir);
    writeFileSync(path.join(dir, 'src', 'extra.ts'), '');
    const added = hashBuildContext(dir);
    expect(added).not.toBe(before);
    chmodSync(path.join(dir, 'src', 'extra.ts'), 0o755);
    expect(hashBuildContext(dir)).not.toBe(added);
  });

  test('stays when an ignored file changes: .dockerignore patterns, node_modules and build output', () => {
    const dir = scratchContext();
    const before = hashBuildContext(dir);
    writeFileSync(path.join(dir, 'NOTES.md'), 'ignored by *.md');
    mkdirSync(path.join(dir, 'scratch'));
    writeFileSync(path.join(dir, 'scratch', 'x.bin'), 'ignored by scratch/');
    mkdirSync(path.join(dir, 'node_modules', 'pkg'), { recursive: true });
    writeFileSync(path.join(dir, 'node_modules', 'pkg', 'index.js'), '');
    mkdirSync(path.join(dir, 'dist'));
    writeFileSync(path.join(dir, 'dist', 'main.js'), '');
    expect(hashBuildContext(dir)).toBe(before);
  });

  test('honours ! exceptions in .dockerignore', () => {
    const dir = scratchContext();
    const before = hashBuildContext(dir);
    writeFileSync(path.join(dir, 'KEEP.md'), 'sent despite *.md');
    expect(hashBuildContext(dir)).not.toBe(before);
  });

  test('a change to .dockerignore itself changes the hash', () => {
    const dir = scratchContext();
    const before = hashBuildContext(dir);
    writeFileSync(path.join(dir, '.dockerignore'), '*.md\n');
    expect(hashBuildContext(dir)).not.toBe(before);
  });
});
