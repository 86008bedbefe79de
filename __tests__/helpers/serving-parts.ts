import { Testing, TerraformStack } from 'cdktf';
import { type Construct } from 'constructs';
import {
  ArtifactRegistryRepository,
  ServingImage,
  VertexDeployment,
  type VertexDeploymentProps,
  VertexEndpoint,
  VertexModel,
  type VertexModelProps,
  VertexServingAccount,
  type VertexServingAccountProps,
} from '../../constructs';
import { PINNED_CONTEXT_HASH } from './synth';

/** What a deployment on an endpoint needs, built in one scope: repository → image → serving account, and model and deployment factories. */
export interface ServingParts {
  readonly endpoint: VertexEndpoint;
  readonly repository: ArtifactRegistryRepository;
  readonly image: ServingImage;
  readonly account: VertexServingAccount;
  /** A version `alias` of the yolo26n model served by `image`, in the endpoint's project and region (construct id `<prefix>model-<alias>`). */
  readonly model: (alias: string, props?: Partial<VertexModelProps>) => VertexModel;
  /** `model` deployed on the endpoint as `account`, one L4 GPU per replica unless `props` say otherwise. */
  readonly deployment: (id: string, model: VertexModel, props?: Partial<VertexDeploymentProps>) => VertexDeployment;
}

/** Options of {@link servingParts}. */
export interface ServingPartsOptions {
  /** Prefix of the construct ids, so that several sets of parts fit in one scope. @default '' */
  readonly prefix?: string;
  /** The Artifact Registry repository id. @default 'serving' */
  readonly repositoryId?: string;
  /** Serving account props besides its project and the repository it may read. @default {} */
  readonly account?: Partial<VertexServingAccountProps>;
}

/** The {@link ServingParts} for `endpoint`, in `scope`, in the endpoint's project and region. */
export function servingParts(
  scope: Construct,
  endpoint: VertexEndpoint,
  options: ServingPartsOptions = {},
): ServingParts {
  const { project, region } = endpoint;
  const prefix = options.prefix ?? '';
  const repository = new ArtifactRegistryRepository(scope, `${prefix}repo`, {
    repositoryId: options.repositoryId ?? 'serving',
    location: region,
    project,
  });
  const image = new ServingImage(scope, `${prefix}image`, {
    repository,
    context: 'serving-image',
    contextHash: PINNED_CONTEXT_HASH,
  });
  const account = new VertexServingAccount(scope, `${prefix}sa`, { project, repository, ...options.account });
  return {
    endpoint,
    repository,
    image,
    account,
    model: (alias, props = {}) =>
      new VertexModel(scope, `${prefix}model-${alias}`, {
        project,
        region,
        modelId: 'yolo26n',
        versionAlias: alias,
        image,
        ...props,
      }),
    deployment: (id, model, props = {}) =>
      new VertexDeployment(scope, id, {
        endpoint,
        model,
        serviceAccount: account,
        machineType: 'g2-standard-8',
        acceleratorType: 'NVIDIA_L4',
        ...props,
      }),
  };
}

/** Runs `build` with {@link ServingParts} on a fresh europe-west4 endpoint of acme-ml-prod, in a stack of its own. */
export function partsIn(build: (p: ServingParts) => void): void {
  const scope: Construct = new TerraformStack(Testing.app(), 'test');
  build(
    servingParts(scope, new VertexEndpoint(scope, 'endpoint', { project: 'acme-ml-prod', region: 'europe-west4' })),
  );
}
