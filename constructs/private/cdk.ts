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
  LocalBackend,
  Lazy,
  TerraformOutput,
  TerraformStack,
  TerraformResource,
  Token,
} from 'cdktf';
export type { IAspect, TerraformElement } from 'cdktf';

export * as googleProvider from '@cdktf/provider-google/lib/provider';
export * as googleClientConfig from '@cdktf/provider-google/lib/data-google-client-config';
export * as projectService from '@cdktf/provider-google/lib/project-service';
export * as artifactRegistryRepository from '@cdktf/provider-google/lib/artifact-registry-repository';
export * as artifactRegistryRepositoryIamMember from '@cdktf/provider-google/lib/artifact-registry-repository-iam-member';

export * as dockerProvider from '@cdktf/provider-docker/lib/provider';
export * as dockerImage from '@cdktf/provider-docker/lib/image';
export * as dockerRegistryImage from '@cdktf/provider-docker/lib/registry-image';
