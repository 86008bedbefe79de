import { Construct } from 'constructs';
import { type MonitoringMetric } from '../monitoring/metric';
import { vertexAiEndpoint } from '../cdk';
import { PROJECT_ID, REGION } from '../../rules/gcp-names';
import { stableDecimalId } from '../private/stable-id';
import { PropsValidator } from '../private/validation';
import { VertexDeployment, type VertexDeploymentOptions } from './deployment';
import { type VertexModel } from './model';
import { type LatencyPercentile, type VertexEndpointMetrics, vertexEndpointMetrics } from '../private/vertex-metrics';
import { BIGQUERY_URI, ENDPOINT_ACCESS, ENDPOINT_ID, KMS_KEY_NAME, endpointAccessProblems } from '../../rules/vertex';

/**
 * How clients reach a {@link VertexEndpoint}:
 * - `public`: the shared public endpoint (`<region>-aiplatform.googleapis.com`);
 * - `dedicated`: a dedicated public DNS name per endpoint (larger payloads, longer timeouts);
 * - `private-psc`: Private Service Connect, reachable only from forwarding rules in `allowedProjects`.
 */
export type EndpointAccess = (typeof ENDPOINT_ACCESS)[number];

/** Request/response logging of online predictions to BigQuery. */
export interface EndpointRequestLogging {
  /**
   * BigQuery destination: `bq://project`, `bq://project.dataset` or `bq://project.dataset.table`
   * (Vertex creates the dataset and table when they are not named).
   */
  readonly bigqueryUri: string;
  /**
   * Fraction of requests logged, in (0, 1].
   * @default 1
   */
  readonly samplingRate?: number;
}

/** Props of {@link VertexEndpoint}. */
export interface VertexEndpointProps {
  /** Project that owns the endpoint. */
  readonly project: string;
  /** Region of the endpoint (models deployed to it run there). */
  readonly region: string;
  /**
   * How clients reach the endpoint.
   * @default "public"
   */
  readonly access?: EndpointAccess;
  /**
   * Projects allowed to create a forwarding rule to the endpoint's service attachment; required,
   * and non-empty, for `private-psc`, refused otherwise.
   * @default - none
   */
  readonly allowedProjects?: readonly string[];
  /**
   * Numeric endpoint id: 1 to 9 digits, no leading zero (Vertex's limit for a numeric id). It is
   * the endpoint's resource name and the `endpoint_id` label of its metrics.
   * @default - 9 digits derived from the project, region and construct path, so it is the same on every synth
   */
  readonly endpointId?: string;
  /**
   * Display name in the console (at most 128 characters).
   * @default - the stack and construct ids joined by `-`
   */
  readonly displayName?: string;
  /**
   * Description of the endpoint.
   * @default "Managed by cdktf"
   */
  readonly description?: string;
  /**
   * Labels on the endpoint (on top of the provider's `default_labels`).
   * @default - none
   */
  readonly labels?: Record<string, string>;
  /**
   * Log prediction requests and responses to BigQuery.
   * @default - not logged
   */
  readonly requestLogging?: EndpointRequestLogging;
  /**
   * Cloud KMS key (`projects/p/locations/r/keyRings/k/cryptoKeys/c`, same region) protecting the
   * endpoint and everything deployed to it (CMEK). Changing it replaces the endpoint.
   * @default - Google-managed encryption
   */
  readonly kmsKeyName?: string;
}

/**
 * A Vertex AI endpoint (`google_vertex_ai_endpoint`) models are deployed to.
 *
 * The endpoint's traffic split is owned by the deployer (see `VertexRollout`), so Terraform
 * ignores it: the provider would otherwise reset the split on any later update of the endpoint
 * (https://registry.terraform.io/providers/hashicorp/google/6.50.0/docs/resources/vertex_ai_endpoint#traffic_split).
 */
export class VertexEndpoint extends Construct {
  /** The underlying Terraform resource. */
  readonly resource: vertexAiEndpoint.VertexAiEndpoint;
  /** Owning project. */
  readonly project: string;
  /** Region. */
  readonly region: string;
  /** How clients reach it. */
  readonly access: EndpointAccess;
  /** Projects allowed to connect over Private Service Connect (empty unless `private-psc`). */
  readonly allowedProjects: readonly string[];
  /** Numeric endpoint id, as a token of the resource (so users depend on the endpoint). */
  readonly endpointId: string;
  /** Full resource name `projects/<project>/locations/<region>/endpoints/<id>`, as a token. */
  readonly endpointName: string;
  /** The numeric endpoint id as a plain string (known at synth; use it in names and monitoring filters). */
  readonly endpointIdLiteral: string;
  /** `https://<id>.<region>-<project number>.prediction.vertexai.goog` for `dedicated` endpoints, as a token. */
  readonly dedicatedEndpointDns: string;
  private readonly added: VertexDeployment[] = [];

  constructor(scope: Construct, id: string, props: VertexEndpointProps) {
    super(scope, id);
    const access = props.access ?? 'public';
    const allowedProjects = props.allowedProjects ?? [];
    const endpointId = props.endpointId ?? stableDecimalId(`${props.project}/${props.region}/${this.node.path}`, 9);
    const v = new PropsValidator('VertexEndpoint')
      .matches('project', props.project, PROJECT_ID, 'a GCP project id')
      .matches('region', props.region, REGION, 'a region such as us-central1')
      .check(
        ENDPOINT_ACCESS.includes(access),
        'access',
        access,
        ENDPOINT_ACCESS.map((a) => JSON.stringify(a)).join(', '),
      )
      .matches('endpointId', endpointId, ENDPOINT_ID, '1 to 9 digits without a leading zero')
      .check(
        props.displayName === undefined || (props.displayName.length >= 1 && props.displayName.length <= 128),
        'displayName',
        props.displayName,
        '1 to 128 characters',
      )
      .matches(
        'requestLogging.bigqueryUri',
        props.requestLogging?.bigqueryUri,
        BIGQUERY_URI,
        'a BigQuery URI such as bq://project.dataset',
      )
      .check(
        props.requestLogging?.samplingRate === undefined ||
          (props.requestLogging.samplingRate > 0 && props.requestLogging.samplingRate <= 1),
        'requestLogging.samplingRate',
        props.requestLogging?.samplingRate,
        'a fraction greater than 0 and at most 1',
      )
      .matches(
        'kmsKeyName',
        props.kmsKeyName,
        KMS_KEY_NAME,
        'a Cloud KMS key name projects/<p>/locations/<r>/keyRings/<k>/cryptoKeys/<c>',
      );
    for (const p of endpointAccessProblems(access, allowedProjects)) v.fail(p.field, p.message);
    for (const [i, p] of allowedProjects.entries()) {
      v.matches(`allowedProjects[${i}]`, p, PROJECT_ID, 'a GCP project id');
    }
    v.throwIfInvalid(this.node.path);

    this.project = props.project;
    this.region = props.region;
    this.access = access;
    this.allowedProjects = [...allowedProjects];
    this.endpointIdLiteral = endpointId;
    this.resource = new vertexAiEndpoint.VertexAiEndpoint(this, 'Resource', {
      project: props.project,
      location: props.region,
      region: props.region,
      name: endpointId,
      displayName: props.displayName ?? this.node.path.split('/').join('-'),
      description: props.description ?? 'Managed by cdktf',
      labels: props.labels,
      dedicatedEndpointEnabled: access === 'dedicated' ? true : undefined,
      privateServiceConnectConfig:
        access === 'private-psc'
          ? { enablePrivateServiceConnect: true, projectAllowlist: [...allowedProjects] }
          : undefined,
      predictRequestResponseLoggingConfig: props.requestLogging
        ? {
            enabled: true,
            samplingRate: props.requestLogging.samplingRate ?? 1,
            bigqueryDestination: { outputUri: props.requestLogging.bigqueryUri },
          }
        : undefined,
      encryptionSpec: props.kmsKeyName ? { kmsKeyName: props.kmsKeyName } : undefined,
      lifecycle: { ignoreChanges: ['traffic_split'] },
    });
    this.endpointId = this.resource.name;
    this.endpointName = this.resource.id;
    this.dedicatedEndpointDns = this.resource.dedicatedEndpointDns;
  }

  /**
   * Deploys a model version to this endpoint. The rollout, alarms and dashboard of the endpoint
   * find it through {@link deployments}, whenever they were created.
   *
   * ```ts
   * const v3 = endpoint.addDeployment(model, { serviceAccount, machineType: 'g2-standard-8', acceleratorType: 'NVIDIA_L4', trafficPercent: 100 });
   * ```
   */
  addDeployment(model: VertexModel, options: VertexDeploymentOptions): VertexDeployment {
    return new VertexDeployment(this, model.node.id, { ...options, model, endpoint: this });
  }

  /** The deployments of this endpoint, in the order they were added. */
  get deployments(): readonly VertexDeployment[] {
    return this.added;
  }

  /**
   * Records a deployment of this endpoint; called by the VertexDeployment constructor.
   * @internal
   */
  _addDeployment(deployment: VertexDeployment): void {
    this.added.push(deployment);
  }

  /** End-to-end prediction latency at a percentile (default p99), ms, per deployed model. */
  metricLatency(percentile: LatencyPercentile = 99): MonitoringMetric {
    return this.metrics().latency(percentile);
  }

  /** Predictions per second, per deployed model. */
  metricPredictions(): MonitoringMetric {
    return this.metrics().predictions();
  }

  /** Failed predictions per second, per deployed model. */
  metricErrors(): MonitoringMetric {
    return this.metrics().errors();
  }

  /** Responses per second, per deployed model; only one HTTP status class when given (5 = 5xx). */
  metricResponses(statusClass?: 2 | 4 | 5): MonitoringMetric {
    return this.metrics().responses(statusClass);
  }

  /** Active replicas, per deployed model. */
  metricReplicas(): MonitoringMetric {
    return this.metrics().replicas();
  }

  /** Replicas the autoscaler wants, per deployed model. */
  metricTargetReplicas(): MonitoringMetric {
    return this.metrics().targetReplicas();
  }

  /** GPU duty cycle as a fraction (0.95 = 95 %), mean over replicas, per deployed model. */
  metricGpuDutyCycle(): MonitoringMetric {
    return this.metrics().gpuDutyCycle();
  }

  /** CPU utilization as a fraction, mean over replicas, per deployed model. */
  metricCpuUtilization(): MonitoringMetric {
    return this.metrics().cpuUtilization();
  }

  private metrics(): VertexEndpointMetrics {
    return vertexEndpointMetrics(this.endpointIdLiteral);
  }
}
