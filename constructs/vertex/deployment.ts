import { Construct } from 'constructs';
import { type DeploymentSpec } from '../../contract/manifest';
import { type MonitoringMetric } from '../monitoring/metric';
import { stableDecimalId } from '../private/stable-id';
import { PropsValidator } from '../private/validation';
import { type LatencyPercentile } from '../private/vertex-metrics';
import {
  AUTOSCALING_METRICS,
  AUTOSCALING_TARGETS,
  type AutoscalingMetricKey,
  DEPLOYED_MODEL_ID,
  REPLICAS,
  RESERVATION_NAME,
  type ReservationAffinityKey,
  SCALE_TO_ZERO_MINUTES,
  acceleratorCount,
  autoscalingProblems,
  machineProblems,
  reservationAffinitySpec,
  reservationProblems,
  scaleToZeroEndpointProblems,
  scaleToZeroProblems,
  type SettingNames,
} from '../../rules/vertex';
import { type VertexEndpoint } from './endpoint';
import { type VertexModel } from './model';
import { type VertexServingAccount } from './serving-account';

/**
 * Autoscaling targets, at most one per metric: `acceleratorDutyCycle` and `cpuUtilization` in percent
 * (1 to 100), `requestsPerReplica` in requests per minute per replica (1 to 1 000 000).
 */
export type AutoscalingTargets = Partial<Record<AutoscalingMetricKey, number>>;

/**
 * Vertex's Scale To Zero (Preview), with `minReplicas: 0`: the deployment has no replica (and no
 * bill) while idle. Periods are 5 to 480 minutes.
 */
export interface ScaleToZeroOptions {
  /** Minutes without traffic before the replicas are removed (`idleScaledownPeriod`). @default 60 */
  readonly idleMinutes?: number;
  /** Minutes a started deployment (deployed or woken up) stays up before its traffic is looked at (`minScaleupPeriod`). @default 60 */
  readonly minUpMinutes?: number;
}

/** The Compute Engine reservation a deployment's replicas draw on (`machineSpec.reservationAffinity`). */
export interface ReservationOptions {
  /** `any`: any matching reservation, else on-demand; `specific`: only `name`; `none`: on-demand only. */
  readonly affinity: ReservationAffinityKey;
  /** The reservation, for `specific`: `my-reservation` or `projects/OWNER/reservations/NAME`. @default - none */
  readonly name?: string;
}

/** This construct's props, as the shared rules' messages name them (rules/vertex.ts). */
const PROP_NAMES: SettingNames = {
  minReplicas: 'minReplicas',
  maxReplicas: 'maxReplicas',
  scaleToZero: 'scaleToZero',
  access: "the endpoint's access",
  accelerator: 'acceleratorType',
  spot: 'spot:',
};

/** How a model version is deployed: what {@link VertexEndpoint.addDeployment} takes besides the model. */
export interface VertexDeploymentOptions {
  /** Identity the container runs as. */
  readonly serviceAccount: VertexServingAccount;
  /** Machine type of each replica, e.g. `g2-standard-8`. */
  readonly machineType: string;
  /** Accelerator, e.g. `NVIDIA_L4`. @default - none (CPU only) */
  readonly acceleratorType?: string;
  /** Accelerators per replica. @default - the machine type's own count (1 on N1) */
  readonly acceleratorCount?: number;
  /** Replicas always running; 0 only with `scaleToZero`. @default 1 */
  readonly minReplicas?: number;
  /** Upper bound for autoscaling. @default - minReplicas */
  readonly maxReplicas?: number;
  /** Autoscaling targets. @default - Vertex's default (60% CPU and GPU duty cycle) */
  readonly autoscaling?: AutoscalingTargets;
  /**
   * Scale to zero when idle (with `minReplicas: 0`; v1beta1 API). Only on a `dedicated` or
   * `private-psc` endpoint that carries no other deployment. Turning it on or off deploys a new
   * DeployedModel; changing the periods changes the live one in place.
   * @default - never scales below minReplicas
   */
  readonly scaleToZero?: ScaleToZeroOptions;
  /** Run replicas on Spot VMs (cheaper, may be preempted). @default false */
  readonly spot?: boolean;
  /**
   * The Compute Engine reservation the replicas draw on (GPU machines only; `specific` not with
   * `spot`). Part of the machine spec: changing it deploys a new DeployedModel.
   * @default - the deploy request names no reservation affinity
   */
  readonly reservation?: ReservationOptions;
  /** Send the container's stdout/stderr to Cloud Logging. @default true */
  readonly containerLogging?: boolean;
  /** Write a Cloud Logging entry per prediction request. @default false */
  readonly accessLogging?: boolean;
  /** Percent of the endpoint's traffic (integer). @default 0 */
  readonly trafficPercent?: number;
  /** Display name of the deployed model. @default "<modelId>@<versionAlias>" */
  readonly displayName?: string;
  /** The DeployedModel id. @default - derived, see {@link deployedModelId} */
  readonly deployedModelId?: string;
}

/** Props of {@link VertexDeployment}. */
export interface VertexDeploymentProps extends VertexDeploymentOptions {
  /** Endpoint it is deployed to; the deployment adds itself to the endpoint's {@link VertexEndpoint.deployments}. */
  readonly endpoint: VertexEndpoint;
  /** Model version it serves. */
  readonly model: VertexModel;
}

/**
 * A model version deployed to an endpoint on dedicated machines (REST `DeployedModel`).
 *
 * Its id ({@link deployedModelId}) is derived from everything Vertex cannot change on a running
 * deployment: the model version, machine, accelerator, reservation, spot, service account, access
 * logging, display name and whether it scales to zero. So an immutable change gives a new id,
 * deployed next to the old one before traffic moves (or, for a deployment that scales to zero,
 * which must be alone on its endpoint, after the old one is undeployed); replica bounds,
 * autoscaling, scale-to-zero periods and container logging keep the id and change in place.
 */
export class VertexDeployment extends Construct {
  /** Endpoint. */
  readonly endpoint: VertexEndpoint;
  /** Model version. */
  readonly model: VertexModel;
  /** Service account. */
  readonly serviceAccount: VertexServingAccount;
  /**
   * 10 digits: the first 8 bytes of SHA-256 over the immutable fields, reduced modulo 9·10⁹ and
   * added to 10⁹ (1 000 000 000 to 9 999 999 999). The same declaration always gives the same id.
   */
  readonly deployedModelId: string;
  /** Percent of the endpoint's traffic. */
  readonly trafficPercent: number;
  /** What the deployer receives. */
  readonly spec: DeploymentSpec;

  constructor(scope: Construct, id: string, props: VertexDeploymentProps) {
    super(scope, id);
    const minReplicas = props.minReplicas ?? 1;
    const maxReplicas = props.maxReplicas ?? minReplicas;
    const trafficPercent = props.trafficPercent ?? 0;
    const machine = { type: props.machineType, accelerator: props.acceleratorType, count: props.acceleratorCount };
    const stz = props.scaleToZero;
    const v = new PropsValidator('VertexDeployment')
      .integer('minReplicas', minReplicas, 0, REPLICAS.max)
      .integer('maxReplicas', maxReplicas, REPLICAS.min, REPLICAS.max)
      .integer('trafficPercent', trafficPercent, 0, 100)
      .matches('deployedModelId', props.deployedModelId, DEPLOYED_MODEL_ID, '1 to 10 digits');
    if (maxReplicas < minReplicas) v.fail('maxReplicas', `${maxReplicas} is less than minReplicas (${minReplicas})`);
    // The same Scale To Zero and reservation rules as stacks.yaml (rules/vertex.ts).
    for (const p of scaleToZeroProblems({ minReplicas, maxReplicas, scaleToZero: stz !== undefined }, PROP_NAMES)) {
      v.fail(p.field === 'replicas' ? 'maxReplicas' : 'scaleToZero', p.message);
    }
    v.integer('scaleToZero.idleMinutes', stz?.idleMinutes, SCALE_TO_ZERO_MINUTES.min, SCALE_TO_ZERO_MINUTES.max);
    v.integer('scaleToZero.minUpMinutes', stz?.minUpMinutes, SCALE_TO_ZERO_MINUTES.min, SCALE_TO_ZERO_MINUTES.max);
    if (stz && minReplicas === 0) {
      for (const p of scaleToZeroEndpointProblems(props.endpoint.access, 1, PROP_NAMES))
        v.fail('scaleToZero', p.message);
    }
    if (props.reservation) {
      v.matches('reservation.name', props.reservation.name, RESERVATION_NAME, 'a reservation name');
      for (const p of reservationProblems(
        {
          ...props.reservation,
          spot: props.spot ?? false,
          hasAccelerator: props.acceleratorType !== undefined,
        },
        PROP_NAMES,
      )) {
        v.fail(`reservation.${p.field}`, p.message);
      }
    }
    for (const problem of machineProblems(machine)) v.fail('machineType', problem);
    for (const [key, target] of Object.entries(props.autoscaling ?? {})) {
      const range = AUTOSCALING_TARGETS[key as AutoscalingMetricKey];
      if (range) v.integer(`autoscaling.${key}`, target, range.min, range.max);
    }
    for (const { key, message } of autoscalingProblems(
      props.autoscaling ?? {},
      props.acceleratorType !== undefined,
      PROP_NAMES,
    )) {
      v.fail(`autoscaling.${key}`, message);
    }
    if (props.model.project !== props.endpoint.project || props.model.region !== props.endpoint.region) {
      v.fail(
        'model',
        `is in ${props.model.project}/${props.model.region}, the endpoint in ${props.endpoint.project}/${props.endpoint.region}`,
      );
    }
    v.throwIfInvalid(this.node.path);
    if (stz) {
      // Alone on its endpoint: known once every deployment is added, so checked at synthesis.
      this.node.addValidation({
        validate: () =>
          scaleToZeroEndpointProblems(props.endpoint.access, props.endpoint.deployments.length, PROP_NAMES).map(
            (p) => `${this.node.path}: scaleToZero: ${p.message} (endpoint ${props.endpoint.node.path})`,
          ),
      });
    }

    this.endpoint = props.endpoint;
    props.endpoint._addDeployment(this);
    this.model = props.model;
    this.serviceAccount = props.serviceAccount;
    this.trafficPercent = trafficPercent;
    const count = acceleratorCount(machine);
    const reservationAffinity = props.reservation ? reservationAffinitySpec(props.reservation) : undefined;
    const machineSpec = {
      machineType: props.machineType,
      ...(props.acceleratorType ? { acceleratorType: props.acceleratorType, acceleratorCount: count } : {}),
      ...(reservationAffinity ? { reservationAffinity } : {}),
    };
    const scaleToZeroSpec = stz
      ? {
          minScaleupPeriod: `${(stz.minUpMinutes ?? SCALE_TO_ZERO_MINUTES.default) * 60}s`,
          idleScaledownPeriod: `${(stz.idleMinutes ?? SCALE_TO_ZERO_MINUTES.default) * 60}s`,
        }
      : undefined;
    const displayName = props.displayName ?? props.model.key;
    const spot = props.spot ?? false;
    const enableAccessLogging = props.accessLogging ?? false;
    this.deployedModelId =
      props.deployedModelId ??
      stableDecimalId(
        JSON.stringify({
          model: props.model.key,
          fingerprint: props.model.fingerprint,
          machineSpec,
          spot,
          serviceAccount: props.serviceAccount.email,
          enableAccessLogging,
          displayName,
          // Turning Scale To Zero on or off is a new deployment (only the v1beta1 deployModel is
          // documented to enable it); left out when off, so other ids stay as they were.
          ...(stz ? { scaleToZero: true } : {}),
        }),
        10,
      );
    this.spec = {
      model: props.model.key,
      displayName,
      serviceAccount: props.serviceAccount.email,
      machineSpec,
      minReplicaCount: minReplicas,
      maxReplicaCount: maxReplicas,
      ...(scaleToZeroSpec ? { scaleToZeroSpec } : {}),
      autoscalingMetricSpecs: Object.entries(props.autoscaling ?? {})
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([key, target]) => ({
          metricName: AUTOSCALING_METRICS[key as AutoscalingMetricKey],
          target: target as number,
        })),
      spot,
      disableContainerLogging: !(props.containerLogging ?? true),
      enableAccessLogging,
      trafficPercent,
    };
  }

  /** Active replicas of this deployed model. */
  metricReplicas(): MonitoringMetric {
    return this.onlyThis(this.endpoint.metricReplicas());
  }

  /** End-to-end prediction latency of this deployed model at a percentile (default p99), ms. */
  metricLatency(percentile: LatencyPercentile = 99): MonitoringMetric {
    return this.onlyThis(this.endpoint.metricLatency(percentile));
  }

  /** GPU duty cycle of this deployed model as a fraction (0.95 = 95 %), mean over replicas. */
  metricGpuDutyCycle(): MonitoringMetric {
    return this.onlyThis(this.endpoint.metricGpuDutyCycle());
  }

  private onlyThis(metric: MonitoringMetric): MonitoringMetric {
    return metric.with({ metricFilters: [`metric.labels.deployed_model_id = "${this.deployedModelId}"`] });
  }
}
