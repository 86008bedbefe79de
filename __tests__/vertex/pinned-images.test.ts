import { Testing } from 'cdktf';
import { PinnedImage } from '../../constructs';
import { problemsOf } from '../helpers/config';
import { stacksFromYaml } from '../helpers/synth';

const DIGEST = `sha256:${'b'.repeat(64)}`;
/** The server version a canary runs: staging's repository, another project. */
const CANARY = `us-central1-docker.pkg.dev/acme-ml-staging/serving/server@${DIGEST}`;
/** An image in the environment's own project. */
const SAME_PROJECT = `us-central1-docker.pkg.dev/acme-ml-dev/serving/server@sha256:${'c'.repeat(64)}`;

/** One environment `dev` with two versions of model m; `v2Extra` goes inside v2's entry, `envExtra` in the environment. */
function twoVersions(v2Extra: string, envExtra = ''): string {
  return `
environments:
  dev:
    project: acme-ml-dev
${envExtra}    models:
      - { name: m, version: v1, artifactUri: gs://acme/m1, machine: { type: g2-standard-8, accelerator: NVIDIA_L4 }, traffic: 90 }
      - { name: m, version: v2, artifactUri: gs://acme/m2, machine: { type: g2-standard-8, accelerator: NVIDIA_L4 }, traffic: 10${v2Extra} }
`;
}

/** The synthesized plan of the first stack of `yaml`. */
function planOf(yaml: string): any {
  return JSON.parse(Testing.synth(stacksFromYaml(yaml)[0], true));
}

/** The image each model version of the rollout manifest runs. */
function manifestImages(plan: any): Record<string, string> {
  const models = Object.values(plan.resource.terraform_data)
    .map((r: any) => r.triggers_replace?.manifest?.models)
    .find(Boolean) as Record<string, { containerSpec: { imageUri: string } }>;
  return Object.fromEntries(Object.entries(models).map(([k, m]) => [k, m.containerSpec.imageUri]));
}

describe('a model entry pins its image (canary a server change)', () => {
  test("the pinned version runs that digest; the other keeps the environment's build", () => {
    // GIVEN v2 pinned to the canary image
    // WHEN
    const images = manifestImages(planOf(twoVersions(`, image: "${CANARY}"`)));
    // THEN only v2 runs it, literally, so cdktf diff shows the digest
    expect(images['m@v2']).toBe(CANARY);
    expect(images['m@v1']).toMatch(
      /^us-central1-docker\.pkg\.dev\/acme-ml-dev\/serving\/server@\$\{data\.docker_registry_image\./,
    );
  });

  test('the model_images output names the image of every version', () => {
    // GIVEN
    const plan = planOf(twoVersions(`, image: "${CANARY}"`));
    // THEN
    expect(plan.output.model_images.value['m@v2']).toBe(CANARY);
    expect(plan.output.model_images.value['m@v1']).toMatch(/@\$\{data\.docker_registry_image\./);
  });

  test("an image in another project gets a read grant for this project's Vertex AI service agent, and the rollout waits for it", () => {
    // GIVEN
    const plan = planOf(twoVersions(`, image: "${CANARY}"`));
    // WHEN
    const grants = Object.entries(plan.resource.google_artifact_registry_repository_iam_member ?? {});
    // THEN one grant, on that repository only
    expect(grants).toHaveLength(1);
    const [address, grant] = grants[0] as [string, any];
    expect(grant).toMatchObject({
      project: 'acme-ml-staging',
      location: 'us-central1',
      repository: 'serving',
      role: 'roles/artifactregistry.reader',
      member:
        'serviceAccount:service-${data.google_project.project-acme-ml-dev.number}@gcp-sa-aiplatform.iam.gserviceaccount.com',
    });
    const apply = Object.entries(plan.resource.terraform_data).find(([k]) => k.startsWith('rollout_Apply'))?.[1] as any;
    expect(apply.depends_on).toContain(`google_artifact_registry_repository_iam_member.${address}`);
  });

  test("an image in the environment's own project needs no grant", () => {
    // GIVEN
    const plan = planOf(twoVersions(`, image: "${SAME_PROJECT}"`));
    // THEN
    expect(plan.resource.google_artifact_registry_repository_iam_member).toBeUndefined();
  });

  test('two versions pinning the same image share one grant', () => {
    // GIVEN v1 and v2 on the canary image
    const yaml = twoVersions(`, image: "${CANARY}"`).replace('traffic: 90 }', `traffic: 90, image: "${CANARY}" }`);
    // WHEN
    const plan = planOf(yaml);
    // THEN
    expect(Object.keys(plan.resource.google_artifact_registry_repository_iam_member)).toHaveLength(1);
  });

  test('the canary stack matches its snapshot (review plan changes here)', () => {
    // GIVEN / WHEN
    const plan = planOf(twoVersions(`, image: "${CANARY}"`));
    // THEN
    expect({
      images: manifestImages(plan),
      grants: plan.resource.google_artifact_registry_repository_iam_member,
      output: plan.output.model_images,
    }).toMatchSnapshot();
  });
});

describe('image.uri: an environment runs a promoted image, building nothing', () => {
  const promoted = (extra = '') => twoVersions(extra, `    image: { uri: "${CANARY}" }\n`);

  test('nothing is built or pushed, and every version runs the promoted digest', () => {
    // GIVEN / WHEN
    const plan = planOf(promoted());
    // THEN
    expect(plan.data.docker_registry_image).toBeUndefined();
    expect(plan.provider.docker).toBeUndefined();
    expect(Object.keys(plan.resource.terraform_data).filter((k) => k.startsWith('image'))).toEqual([]);
    expect(manifestImages(plan)).toEqual({ 'm@v1': CANARY, 'm@v2': CANARY });
    expect(plan.output.image_uri.value).toBe(CANARY);
  });

  test("a model entry's image still wins over the environment's", () => {
    // GIVEN
    const images = manifestImages(planOf(promoted(`, image: "${SAME_PROJECT}"`)));
    // THEN
    expect(images).toEqual({ 'm@v1': CANARY, 'm@v2': SAME_PROJECT });
  });
});

/** Images a model entry or image.uri refuses, each with the refusal's words. */
const REFUSED: [string, string, RegExp][] = [
  [
    'a tag alone',
    'us-central1-docker.pkg.dev/acme-ml-staging/serving/server:v3',
    /is pinned by tag only: a tag can be moved to other bytes.*server@sha256:<64 hex>/,
  ],
  [
    'no tag and no digest',
    'us-central1-docker.pkg.dev/acme-ml-staging/serving/server',
    /names no digest: append @sha256:<64 hex>/,
  ],
  [
    'a tag next to the digest',
    `us-central1-docker.pkg.dev/acme-ml-staging/serving/server:v3@${DIGEST}`,
    /has both a tag and a digest: drop the tag \(:v3\)/,
  ],
  [
    'a short digest',
    'us-central1-docker.pkg.dev/acme-ml-staging/serving/server@sha256:abc',
    /has the digest sha256:abc, not sha256: and 64 lowercase hex digits/,
  ],
  ['another registry', `docker.io/library/server@${DIGEST}`, /is not in Artifact Registry \(LOCATION-docker\.pkg\.dev/],
  [
    'no repository in the path',
    `us-central1-docker.pkg.dev/acme-ml-staging/server@${DIGEST}`,
    /is not LOCATION-docker\.pkg\.dev\/PROJECT\/REPOSITORY\/IMAGE@sha256:<64 hex>/,
  ],
];

describe('images that are not pinned by digest are refused', () => {
  test.each(REFUSED)('models[].image: %s', (_what, uri, message) => {
    expect(problemsOf(twoVersions(`, image: "${uri}"`))).toMatch(
      new RegExp(`environments\\.dev\\.models\\[1\\]\\.image: .*${message.source}`),
    );
  });

  test.each(REFUSED)('image.uri: %s', (_what, uri, message) => {
    expect(problemsOf(twoVersions('', `    image: { uri: "${uri}" }\n`))).toMatch(
      new RegExp(`environments\\.dev\\.image\\.uri: .*${message.source}`),
    );
  });

  test.each(REFUSED)('the PinnedImage construct: %s', (_what, uri, message) => {
    const stack = stacksFromYaml(twoVersions(''))[0];
    expect(() => new PinnedImage(stack, 'pinned', { uri })).toThrow(
      new RegExp(`PinnedImage dev/pinned: invalid props:\\n  uri: .*${message.source}`),
    );
  });
});
