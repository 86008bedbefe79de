import { Construct } from 'constructs';
import type { EnvironmentConfig } from '../config/schema/environment';
import { ArtifactRegistryRepository } from './artifact-registry-repository';
import {
  GcsBackend,
  LocalBackend,
  TerraformOutput,
  TerraformStack,
  dockerProvider,
  googleClientConfig,
  googleProvider,
} from './private/cdk';
import { ProjectServices } from './project-services';
import { ServingImage } from './serving-image';

/** Props of {@link ServingStack}. */
export interface ServingStackProps {
  /** The environment's validated, defaulted settings from stacks.yaml. */
  readonly environment: EnvironmentConfig;
  /**
   * Directory the image's build context is relative to.
   * @default process.cwd()
   */
  readonly root?: string;
  /**
   * A fixed build-context hash instead of hashing the files (snapshot tests).
   * @default - hashed from the build context
   */
  readonly contextHash?: string;
}

/** APIs every serving stack uses. */
const BASE_SERVICES = [
  'aiplatform.googleapis.com',
  'artifactregistry.googleapis.com',
  'iam.googleapis.com',
  'logging.googleapis.com',
  'monitoring.googleapis.com',
];

/**
 * One environment: providers, state backend, APIs, the Artifact Registry repository and the
 * serving image. Its name is the environment's name, so `cdktf deploy <name>` deploys it.
 */
export class ServingStack extends TerraformStack {
  /** The environment this stack was built from. */
  readonly environment: EnvironmentConfig;
  /** The APIs enabled; resources that need them depend on these. */
  readonly services: ProjectServices;
  /** The image repository. */
  readonly repository: ArtifactRegistryRepository;
  /** The serving image, pinned by digest. */
  readonly image: ServingImage;

  constructor(scope: Construct, name: string, props: ServingStackProps) {
    super(scope, name);
    const env = props.environment;
    this.environment = env;

    new googleProvider.GoogleProvider(this, 'google', {
      project: env.project,
      region: env.region,
      defaultLabels: env.labels,
    });
    if (env.state) {
      new GcsBackend(this, { bucket: env.state.bucket, prefix: env.state.prefix ?? name });
    } else {
      // Relative to the stack's directory (cdktf.out/stacks/<name>): the project root, outside
      // cdktf.out so re-synthesizing never touches it, and no absolute path in the plan.
      new LocalBackend(this, { path: `../../../terraform.${name}.tfstate` });
    }

    this.services = new ProjectServices(this, 'services', { project: env.project, services: BASE_SERVICES });

    this.repository = new ArtifactRegistryRepository(this, 'repository', {
      project: env.project,
      location: env.region,
      repositoryId: env.image.repository,
      keepVersions: env.image.keepVersions,
      deleteUntaggedAfterDays: env.image.deleteUntaggedAfterDays,
      deleteAfterDays: env.image.deleteAfterDays,
    });
    this.repository.resource.dependsOn = this.services.resources.map((r) => r.fqn);

    // Docker pushes with the caller's own Google credentials (gcloud ADC): no key files.
    const clientConfig = new googleClientConfig.DataGoogleClientConfig(this, 'client');
    new dockerProvider.DockerProvider(this, 'docker', {
      registryAuth: [
        { address: this.repository.registryHost, username: 'oauth2accesstoken', password: clientConfig.accessToken },
      ],
    });

    this.image = new ServingImage(this, 'image', {
      repository: this.repository,
      context: env.image.context,
      imageName: env.image.name,
      dockerfile: env.image.dockerfile,
      buildArgs: env.image.buildArgs,
      root: props.root,
      contextHash: props.contextHash,
    });

    new TerraformOutput(this, 'repository_url', {
      value: this.repository.repositoryUrl,
      description: 'Artifact Registry repository images are pushed to',
    });
    new TerraformOutput(this, 'image_uri', {
      value: this.image.imageUri,
      description: 'Serving image, pinned by digest',
    });
  }
}
