/**
 * The one place that names the CDK for Terraform packages.
 *
 * cdktf was archived by HashiCorp in December 2025 and is frozen here at 0.21 with
 * @cdktf/provider-google 16.12.1 (google provider 6.50); its community fork, cdktn, keeps the
 * same API. Moving to it means changing the module names in this file, not every construct.
 */
export {
  App,
  Annotations,
  Aspects,
  Fn,
  GcsBackend,
  Lazy,
  LocalBackend,
  TerraformOutput,
  TerraformStack,
  TerraformResource,
  Token,
} from 'cdktf';
export type { IAspect } from 'cdktf';
/**
 * Resolves tokens to the Terraform expressions they stand for (e.g. `${docker_registry_image.x.sha256_digest}`),
 * so policy checks can tell what a value will be. Not re-exported by the `cdktf` entry point;
 * stable in the frozen 0.21.
 */
export { resolve as resolveTokens } from 'cdktf/lib/_tokens';

export * as googleProvider from '@cdktf/provider-google/lib/provider';
export * as googleClientConfig from '@cdktf/provider-google/lib/data-google-client-config';
export * as googleClientOpenidUserinfo from '@cdktf/provider-google/lib/data-google-client-openid-userinfo';
export * as dataGoogleProject from '@cdktf/provider-google/lib/data-google-project';
export * as dataGoogleStorageBucket from '@cdktf/provider-google/lib/data-google-storage-bucket';
export * as projectService from '@cdktf/provider-google/lib/project-service';
export * as artifactRegistryRepository from '@cdktf/provider-google/lib/artifact-registry-repository';
export * as artifactRegistryRepositoryIamMember from '@cdktf/provider-google/lib/artifact-registry-repository-iam-member';

export * as monitoringAlertPolicy from '@cdktf/provider-google/lib/monitoring-alert-policy';
export * as monitoringDashboard from '@cdktf/provider-google/lib/monitoring-dashboard';
export * as monitoringNotificationChannel from '@cdktf/provider-google/lib/monitoring-notification-channel';

export * as dockerProvider from '@cdktf/provider-docker/lib/provider';
export * as dataDockerRegistryImage from '@cdktf/provider-docker/lib/data-docker-registry-image';
export * as vertexAiEndpoint from '@cdktf/provider-google/lib/vertex-ai-endpoint';
export { DataResource, TerraformLocal } from 'cdktf';
export * as serviceAccount from '@cdktf/provider-google/lib/service-account';
export * as serviceAccountIamMember from '@cdktf/provider-google/lib/service-account-iam-member';
export * as projectIamMember from '@cdktf/provider-google/lib/project-iam-member';
export * as storageBucketIamMember from '@cdktf/provider-google/lib/storage-bucket-iam-member';
export * as httpProvider from '@cdktf/provider-http/lib/provider';
export * as dataHttp from '@cdktf/provider-http/lib/data-http';
