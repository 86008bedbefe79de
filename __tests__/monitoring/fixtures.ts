import type { Construct } from 'constructs';
import { ArtifactRegistryRepository, ServingImage, VertexEndpoint, type VertexEndpointProps } from '../../constructs';
import { VertexDeployment } from '../../constructs/vertex-deployment';
import { VertexModel } from '../../constructs/vertex-model';
import { VertexServingAccount } from '../../constructs/vertex-serving-account';
import { PINNED_CONTEXT_HASH } from '../helpers/synth';

/** The endpoint id every monitoring test uses. */
export const ENDPOINT_ID = '123456789';

/** A public endpoint in acme-ml-dev / us-central1 with a fixed id. */
export function endpointIn(scope: Construct, props: Partial<VertexEndpointProps> = {}): VertexEndpoint {
  return new VertexEndpoint(scope, 'endpoint', { project: 'acme-ml-dev', region: 'us-central1', endpointId: ENDPOINT_ID, ...props });
}

/** The synthesized resources of one type, by construct id, parsed from `Testing.synthScope` output. */
export function resourcesOf(synthesized: string, type: string): Record<string, Record<string, any>> {
  return (JSON.parse(synthesized).resource?.[type] ?? {}) as Record<string, Record<string, any>>;
}

/** A model version and its deployment on `endpoint`: one L4 GPU per replica, `maxReplicas` at most. */
export function deploymentOn(scope: Construct, endpoint: VertexEndpoint, options: { maxReplicas?: number; id?: string; gpu?: boolean } = {}): VertexDeployment {
  const id = options.id ?? 'yolo';
  const repository = new ArtifactRegistryRepository(scope, `${id}-repo`, { repositoryId: `${id}-repo`, location: endpoint.region, project: endpoint.project });
  const image = new ServingImage(scope, `${id}-image`, { repository, context: 'serving-image', contextHash: PINNED_CONTEXT_HASH });
  const model = new VertexModel(scope, `${id}-model`, { project: endpoint.project, region: endpoint.region, modelId: 'yolo26n', versionAlias: 'v3', image });
  const serviceAccount = new VertexServingAccount(scope, `${id}-sa`, { project: endpoint.project, accountId: `${id}-serving` });
  return new VertexDeployment(scope, id, {
    endpoint,
    model,
    serviceAccount,
    machineType: options.gpu === false ? 'n1-standard-4' : 'g2-standard-8',
    acceleratorType: options.gpu === false ? undefined : 'NVIDIA_L4',
    minReplicas: 1,
    maxReplicas: options.maxReplicas ?? 2,
    trafficPercent: 100,
  });
}
