import { Construct } from 'constructs';
import { artifactRegistryRepository, artifactRegistryRepositoryIamMember } from '../cdk';
import { REGION, REPOSITORY_ID } from '../../rules/gcp-names';
import { PropsValidator } from '../private/validation';

/** Something that can be granted IAM roles: a member string such as `serviceAccount:sa@p.iam.gserviceaccount.com`, or an object exposing one. */
export type Grantee = string | { readonly member: string };

/** Props of {@link ArtifactRegistryRepository}. */
export interface ArtifactRegistryRepositoryProps {
  /** Repository id: lowercase letters, digits and hyphens, starting with a letter, at most 63 characters. */
  readonly repositoryId: string;
  /** Region of the repository; images are pushed to `<location>-docker.pkg.dev`. */
  readonly location: string;
  /** Project that owns the repository. */
  readonly project: string;
  /**
   * Human-readable description.
   * @default "Serving images, managed by cdktf"
   */
  readonly description?: string;
  /**
   * Labels on the repository (on top of the provider's `default_labels`).
   * @default - none
   */
  readonly labels?: Record<string, string>;
  /**
   * The newest versions kept whatever their age or tag.
   * @default 10
   */
  readonly keepVersions?: number;
  /**
   * Untagged versions older than this are deleted (unless among the `keepVersions` newest).
   * @default 7
   */
  readonly deleteUntaggedAfterDays?: number;
  /**
   * Any version older than this is deleted, unless among the `keepVersions` newest; keep it longer
   * than the oldest image any endpoint may still be serving, since Vertex pulls the image again
   * whenever it starts a replica.
   * @default 90
   */
  readonly deleteAfterDays?: number;
  /**
   * Only log what the cleanup policies would delete.
   * @default false
   */
  readonly cleanupPolicyDryRun?: boolean;
}

const DAY_SECONDS = 86_400;

/**
 * A Docker-format Artifact Registry repository for serving images, with cleanup policies that
 * keep the newest versions and prune old and untagged ones.
 *
 * Cleanup policies: https://cloud.google.com/artifact-registry/docs/repositories/cleanup-policy
 * (a version matched by both a keep and a delete policy is kept).
 */
export class ArtifactRegistryRepository extends Construct {
  /** The underlying Terraform resource. */
  readonly resource: artifactRegistryRepository.ArtifactRegistryRepository;
  /** Repository id. */
  readonly repositoryId: string;
  /** Region. */
  readonly location: string;
  /** Owning project. */
  readonly project: string;
  /** Registry host to authenticate Docker against, e.g. `us-central1-docker.pkg.dev`. */
  readonly registryHost: string;
  /** Prefix of every image in the repository: `<host>/<project>/<repository>`. */
  readonly repositoryUrl: string;

  constructor(scope: Construct, id: string, props: ArtifactRegistryRepositoryProps) {
    super(scope, id);
    const keepVersions = props.keepVersions ?? 10;
    const deleteUntaggedAfterDays = props.deleteUntaggedAfterDays ?? 7;
    const deleteAfterDays = props.deleteAfterDays ?? 90;
    new PropsValidator('ArtifactRegistryRepository')
      .matches('repositoryId', props.repositoryId, REPOSITORY_ID, 'an Artifact Registry repository id')
      .matches('location', props.location, REGION, 'a region such as us-central1')
      .integer('keepVersions', keepVersions, 1, 1000)
      .integer('deleteUntaggedAfterDays', deleteUntaggedAfterDays, 1, 3650)
      .integer('deleteAfterDays', deleteAfterDays, 1, 3650)
      .throwIfInvalid(this.node.path);

    this.repositoryId = props.repositoryId;
    this.location = props.location;
    this.project = props.project;
    this.registryHost = `${props.location}-docker.pkg.dev`;
    this.repositoryUrl = `${this.registryHost}/${props.project}/${props.repositoryId}`;
    this.resource = new artifactRegistryRepository.ArtifactRegistryRepository(this, 'Resource', {
      project: props.project,
      location: props.location,
      repositoryId: props.repositoryId,
      format: 'DOCKER',
      description: props.description ?? 'Serving images, managed by cdktf',
      labels: props.labels,
      cleanupPolicyDryRun: props.cleanupPolicyDryRun ?? false,
      cleanupPolicies: [
        { id: 'keep-newest', action: 'KEEP', mostRecentVersions: { keepCount: keepVersions } },
        {
          id: 'delete-untagged',
          action: 'DELETE',
          condition: { tagState: 'UNTAGGED', olderThan: `${deleteUntaggedAfterDays * DAY_SECONDS}s` },
        },
        {
          id: 'delete-old',
          action: 'DELETE',
          condition: { tagState: 'ANY', olderThan: `${deleteAfterDays * DAY_SECONDS}s` },
        },
      ],
    });
  }

  /**
   * Lets `grantee` pull images (`roles/artifactregistry.reader` on this repository only).
   * @param grantee an IAM member string or an object exposing `member`
   * @param id construct id, unique within this repository; derived from the member when it is a literal
   */
  grantRead(grantee: Grantee, id?: string): artifactRegistryRepositoryIamMember.ArtifactRegistryRepositoryIamMember {
    const member = typeof grantee === 'string' ? grantee : grantee.member;
    return new artifactRegistryRepositoryIamMember.ArtifactRegistryRepositoryIamMember(
      this,
      id ?? `Read-${member.replace(/[^A-Za-z0-9]+/g, '-')}`,
      {
        project: this.project,
        location: this.location,
        repository: this.resource.name,
        role: 'roles/artifactregistry.reader',
        member,
      },
    );
  }
}
