import { Testing } from 'cdktf';
import { ArtifactRegistryRepository as RepositoryResource } from '@cdktf/provider-google/lib/artifact-registry-repository';
import { ArtifactRegistryRepositoryIamMember } from '@cdktf/provider-google/lib/artifact-registry-repository-iam-member';
import { ArtifactRegistryRepository } from '../../constructs';

const BASE = { repositoryId: 'serving', location: 'us-central1', project: 'acme-ml-dev' };

describe('ArtifactRegistryRepository', () => {
  test('creates a Docker repository in the given project and region', () => {
    // WHEN
    const synthesized = Testing.synthScope((scope) => new ArtifactRegistryRepository(scope, 'repo', BASE));
    // THEN
    expect(synthesized).toHaveResourceWithProperties(RepositoryResource, {
      repository_id: 'serving',
      location: 'us-central1',
      project: 'acme-ml-dev',
      format: 'DOCKER',
      cleanup_policy_dry_run: false,
    });
  });

  test('keeps the newest versions and deletes untagged and old ones', () => {
    // WHEN
    const synthesized = Testing.synthScope(
      (scope) =>
        new ArtifactRegistryRepository(scope, 'repo', {
          ...BASE,
          keepVersions: 3,
          deleteUntaggedAfterDays: 2,
          deleteAfterDays: 30,
        }),
    );
    // THEN
    expect(synthesized).toHaveResourceWithProperties(RepositoryResource, {
      cleanup_policies: [
        { id: 'keep-newest', action: 'KEEP', most_recent_versions: { keep_count: 3 } },
        { id: 'delete-untagged', action: 'DELETE', condition: { tag_state: 'UNTAGGED', older_than: '172800s' } },
        { id: 'delete-old', action: 'DELETE', condition: { tag_state: 'ANY', older_than: '2592000s' } },
      ],
    });
  });

  test('defaults keep 10 versions and delete untagged after 7 days', () => {
    const synthesized = Testing.synthScope((scope) => new ArtifactRegistryRepository(scope, 'repo', BASE));
    expect(synthesized).toHaveResourceWithProperties(RepositoryResource, {
      cleanup_policies: expect.arrayContaining([
        expect.objectContaining({ most_recent_versions: { keep_count: 10 } }),
        expect.objectContaining({ condition: { tag_state: 'UNTAGGED', older_than: '604800s' } }),
      ]),
    });
  });

  test('exposes the registry host and repository URL', () => {
    // GIVEN
    const app = Testing.app();
    const stack = new (require('cdktf').TerraformStack)(app, 'test');
    // WHEN
    const repo = new ArtifactRegistryRepository(stack, 'repo', BASE);
    // THEN
    expect(repo.registryHost).toBe('us-central1-docker.pkg.dev');
    expect(repo.repositoryUrl).toBe('us-central1-docker.pkg.dev/acme-ml-dev/serving');
  });

  test('grantRead gives the reader role on this repository only', () => {
    // WHEN
    const synthesized = Testing.synthScope((scope) => {
      const repo = new ArtifactRegistryRepository(scope, 'repo', BASE);
      repo.grantRead('serviceAccount:serving@acme-ml-dev.iam.gserviceaccount.com');
      repo.grantRead({ member: 'group:ml@acme.example' });
    });
    // THEN
    expect(synthesized).toHaveResourceWithProperties(ArtifactRegistryRepositoryIamMember, {
      role: 'roles/artifactregistry.reader',
      member: 'serviceAccount:serving@acme-ml-dev.iam.gserviceaccount.com',
      location: 'us-central1',
      repository: expect.stringMatching(/^\$\{google_artifact_registry_repository\.repo_[0-9A-F]+\.name\}$/),
    });
    expect(synthesized).toHaveResourceWithProperties(ArtifactRegistryRepositoryIamMember, {
      member: 'group:ml@acme.example',
    });
  });

  test('rejects a bad repository id, region and retention, all at once', () => {
    expect(() =>
      Testing.synthScope(
        (scope) =>
          new ArtifactRegistryRepository(scope, 'repo', {
            ...BASE,
            repositoryId: 'Serving_Images',
            location: 'US',
            keepVersions: 0,
            deleteAfterDays: 1.5,
          }),
      ),
    ).toThrow(
      /repositoryId: "Serving_Images" is not allowed[\s\S]*location: "US" is not allowed[\s\S]*keepVersions: 0 is not allowed; expected an integer from 1 to 1000[\s\S]*deleteAfterDays: 1.5/,
    );
  });
});
