import { type Construct } from 'constructs';
import {
  type ServerMetricTypes,
  type VertexDeployment,
  VertexEndpoint,
  type VertexEndpointProps,
} from '../../constructs';
import { servingParts } from '../helpers/serving-parts';

/** The endpoint id every monitoring test uses. */
export const ENDPOINT_ID = '123456789';

/** A public endpoint in acme-ml-dev / us-central1 with a fixed id. */
export function endpointIn(scope: Construct, props: Partial<VertexEndpointProps> = {}): VertexEndpoint {
  return new VertexEndpoint(scope, 'endpoint', {
    project: 'acme-ml-dev',
    region: 'us-central1',
    endpointId: ENDPOINT_ID,
    ...props,
  });
}

/** The synthesized resources of one type, by construct id, parsed from `Testing.synthScope` output. */
export function resourcesOf(synthesized: string, type: string): Record<string, Record<string, any>> {
  return (JSON.parse(synthesized).resource?.[type] ?? {}) as Record<string, Record<string, any>>;
}

/** A model version and its deployment on `endpoint`: one L4 GPU per replica, `maxReplicas` at most; with `scaleToZero`, none while idle. */
export function deploymentOn(
  scope: Construct,
  endpoint: VertexEndpoint,
  options: { maxReplicas?: number; id?: string; gpu?: boolean; scaleToZero?: boolean } = {},
): VertexDeployment {
  const id = options.id ?? 'yolo';
  const parts = servingParts(scope, endpoint, {
    prefix: `${id}-`,
    repositoryId: `${id}-repo`,
    account: { accountId: `${id}-serving` },
  });
  return parts.deployment(id, parts.model('v3'), {
    machineType: options.gpu === false ? 'n1-standard-4' : 'g2-standard-8',
    acceleratorType: options.gpu === false ? undefined : 'NVIDIA_L4',
    minReplicas: options.scaleToZero ? 0 : 1,
    maxReplicas: options.maxReplicas ?? 2,
    scaleToZero: options.scaleToZero ? { idleMinutes: 30, minUpMinutes: 15 } : undefined,
    trafficPercent: 100,
  });
}

/** Metric types as the app passes them (serving-image/src/metric-types.ts). */
export const SERVER_METRIC_TYPES: ServerMetricTypes = {
  resourceType: 'generic_task',
  queueWait: 'workload.googleapis.com/serving/queue_wait',
  batchSize: 'workload.googleapis.com/serving/batch_size',
  stageDuration: 'workload.googleapis.com/serving/stage_duration',
  requests: 'workload.googleapis.com/serving/requests',
  workerRestarts: 'workload.googleapis.com/serving/worker_restarts',
  queueDepth: 'workload.googleapis.com/serving/queue_depth',
};
