import { type Construct } from 'constructs';
import { type EnvironmentConfig } from '../config/schema/environment';
import {
  addServingPolicies,
  ArtifactRegistryRepository,
  EndpointAlarms,
  type IServingImage,
  EndpointDashboard,
  type ModelProbe,
  NotificationChannels,
  pathFromStackDir,
  PinnedImage,
  ProjectServices,
  type ServerMetricTypes,
  ServingImage,
  type VertexDeployment,
  VertexEndpoint,
  VertexModel,
  VertexRollout,
  VertexServingAccount,
} from '../constructs';
import {
  GcsBackend,
  LocalBackend,
  TerraformOutput,
  TerraformResource,
  TerraformStack,
  dockerProvider,
  googleClientConfig,
  googleProvider,
} from '../constructs/cdk';
import { type ServingProfile, cpuThreadLayout, machineVcpus } from '../rules/serving-profile';
import { GPU_DEFAULT_DEPLOYMENT_TIMEOUT_SECONDS, GPU_DEFAULT_STARTUP_PROBE, acceleratorCount } from '../rules/vertex';
import { type ModelConfig } from '../config/schema/model';
import { blueGreenPeakGpus } from '../contract/gpu-need';
import { MONITORED_RESOURCE_TYPE, SERVER_METRICS, metricType } from '../serving-image/src/metric-types';

/**
 * The metrics the serving image writes, from its own list of them (one source of truth): the
 * dashboard and the queue-wait alarm chart exactly these types. The image writes them under its
 * default prefix unless a model's `env` sets CLOUD_MONITORING_METRIC_PREFIX.
 */
const SERVER_METRIC_TYPES: ServerMetricTypes = {
  resourceType: MONITORED_RESOURCE_TYPE,
  queueWait: metricType(SERVER_METRICS.queueWait),
  batchSize: metricType(SERVER_METRICS.batchSize),
  stageDuration: metricType(SERVER_METRICS.stageDuration),
  requests: metricType(SERVER_METRICS.requests),
  workerRestarts: metricType(SERVER_METRICS.workerRestarts),
  queueDepth: metricType(SERVER_METRICS.queueDepth),
};

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
 * One environment: providers, state backend, APIs, the Artifact Registry repository, the serving
 * image, the Vertex AI endpoint with its serving account, model versions, deployments and rollout,
 * the alert policies and dashboard, the organisation policy checks, and the outputs. Its name is
 * the environment's name, so `cdktf deploy <name>` deploys it.
 */
export class ServingStack extends TerraformStack {
  /** The environment this stack was built from. */
  readonly environment: EnvironmentConfig;
  /** The APIs enabled; resources that need them depend on these. */
  readonly services: ProjectServices;
  /** The image repository. */
  readonly repository: ArtifactRegistryRepository;
  /**
   * The environment's serving image, pinned by digest: built and pushed by the stack, or, with
   * `image.uri`, an image built elsewhere (a {@link PinnedImage}). A model entry's `image` overrides it.
   */
  readonly image: IServingImage;
  /** The Vertex AI endpoint the environment's models are deployed to. */
  readonly endpoint: VertexEndpoint;
  /** The identity deployed models run as. */
  readonly servingAccount: VertexServingAccount;
  /** One deployment per entry of `models:`, in file order (the endpoint's {@link VertexEndpoint.deployments}). */
  readonly deployments: readonly VertexDeployment[];
  /** Uploads, deploys and splits traffic through the deployer. */
  readonly rollout: VertexRollout;
  /** Alert policies on the endpoint, from `alerts:`. */
  readonly alarms: EndpointAlarms;
  /** The endpoint's Cloud Monitoring dashboard. */
  readonly dashboard: EndpointDashboard;

  constructor(scope: Construct, name: string, props: ServingStackProps) {
    super(scope, name);
    const env = props.environment;
    this.environment = env;

    const google = new googleProvider.GoogleProvider(this, 'google', { project: env.project, region: env.region });
    // As an override, not `defaultLabels`: cdktf snake-cases the keys of maps in provider blocks
    // (hashicorp/terraform-cdk#2681), so `cost-center` would reach the plan as `cost_center` while
    // every resource's own labels keep the hyphen. Overrides are written as given.
    google.addOverride('default_labels', env.labels);
    if (env.state) {
      new GcsBackend(this, { bucket: env.state.bucket, prefix: env.state.prefix ?? name });
    } else {
      // Relative to the stack's directory (cdktf.out/stacks/<name>): the project root, outside
      // cdktf.out so re-synthesizing never touches it, and no absolute path in the plan.
      new LocalBackend(this, {
        path: pathFromStackDir(this, props.root ?? process.cwd(), `terraform.${name}.tfstate`),
      });
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
    // Everything that calls a Google API waits for it to be enabled.
    const apis = this.services.resources.map((r) => r.fqn);
    this.repository.resource.dependsOn = apis;

    // The stack's one google_client_config: the push's registry login and the rollout's drift read.
    const clientConfig = new googleClientConfig.DataGoogleClientConfig(this, 'client');
    this.image = env.image.uri ? PinnedImage.of(this, env.image.uri) : this.buildImage(env, clientConfig, props);

    this.endpoint = new VertexEndpoint(this, 'endpoint', {
      project: env.project,
      region: env.region,
      access: env.endpoint.access,
      allowedProjects: env.endpoint.allowedProjects,
      endpointId: env.endpoint.endpointId,
      requestLogging: env.endpoint.requestLogging,
      kmsKeyName: env.endpoint.kmsKeyName,
    });
    this.endpoint.resource.dependsOn = apis;

    // No grant on the repository or the artifact buckets: Vertex AI pulls the image and copies the
    // artifacts with its own service agent (https://cloud.google.com/vertex-ai/docs/general/custom-service-account),
    // and the container reads the copy at AIP_STORAGE_URI. See VertexArtifactBucket. The one
    // exception is a model's TensorRT engine cache, a prefix of its artifact folder (below).
    this.servingAccount = new VertexServingAccount(this, 'serving-account', {
      project: env.project,
      accountId: env.servingAccountId,
    });
    this.servingAccount.resource.dependsOn = apis;
    // Deploying a model that runs as the account needs actAs on it: granted on this account alone.
    if (env.deployer) this.servingAccount.grantActAs(env.deployer);
    else this.servingAccount.grantActAsToApplyingIdentity();
    this.deployments = env.models.map((m) => {
      const key = `${m.name}-${m.version}`;
      // The server runs one inference worker per GPU only when told how many there are (Vertex does
      // not set CUDA_VISIBLE_DEVICES), so a multi-GPU machine gets GPU_COUNT and WORKERS; `env` wins.
      const gpus = acceleratorCount(m.machine);
      const gpuEnv: Record<string, string> = {
        ...(gpus > 1 ? { GPU_COUNT: String(gpus), WORKERS: String(gpus) } : {}),
        // A GPU replica whose CUDA and TensorRT fail to load would otherwise serve on its CPU,
        // healthy and many times slower: without the CPU provider, it fails to start instead, and
        // so does the rollout (serving-image/README.md, EXECUTION_PROVIDERS).
        ...(gpus > 0 && !m.allowCpuFallback ? { EXECUTION_PROVIDERS: 'tensorrt,cuda' } : {}),
        ...(m.profile ? profileEnv(m.profile, m.machine.type) : {}),
      };
      // The label telling versions apart in the server's own metrics (Vertex passes the container
      // no version: https://cloud.google.com/vertex-ai/docs/predictions/custom-container-requirements#aip-variables).
      const versionEnv = { MODEL_VERSION: m.version };
      const model = new VertexModel(this, `model-${key}`, {
        project: env.project,
        region: env.region,
        modelId: m.name,
        versionAlias: m.version,
        // A canary pins its own image; the others run the environment's.
        image: m.image ? PinnedImage.of(this, m.image) : this.image,
        artifactUri: m.artifactUri,
        labels: env.labels,
        // Absent, the server's own default applies (FP16): the plan stays free of a setting that
        // onnxruntime-node 1.30 does not pass on to TensorRT (serving-image/README.md, TensorRT).
        tensorrt: m.tensorrt,
        container: {
          env: { ...versionEnv, ...gpuEnv, ...m.env },
          sharedMemorySizeMb: m.sharedMemorySizeMb,
          // Covers the startup probe's engine build and the image pull (rules/vertex.ts).
          deploymentTimeoutSeconds:
            m.deploymentTimeout ?? (gpus > 0 ? GPU_DEFAULT_DEPLOYMENT_TIMEOUT_SECONDS : undefined),
          // A GPU container builds its TensorRT engines on first start: give it time (rules/vertex.ts).
          startupProbe:
            probe(m.probes?.startup) ??
            (gpus > 0 ? { httpGet: { path: '/health' }, ...GPU_DEFAULT_STARTUP_PROBE } : undefined),
          healthProbe: probe(m.probes?.health),
          livenessProbe: probe(m.probes?.liveness),
        },
      });
      // The Vertex AI service agent the grants name exists once the API is enabled.
      if (model.artifacts) model.artifacts.grant.dependsOn = apis;
      if (model.imageGrant) model.imageGrant.dependsOn = apis;
      // The first replica uploads the engines it built; later ones read them.
      if (model.engineCacheUri) this.servingAccount.grantEngineCache(model);
      return this.endpoint.addDeployment(model, {
        serviceAccount: this.servingAccount,
        machineType: m.machine.type,
        acceleratorType: m.machine.accelerator,
        acceleratorCount: m.machine.count,
        minReplicas: m.replicas.min,
        maxReplicas: m.replicas.max,
        autoscaling: m.autoscaling,
        scaleToZero: m.scaleToZero,
        spot: m.spot,
        reservation: m.machine.reservation,
        containerLogging: m.containerLogging,
        accessLogging: m.accessLogging,
        trafficPercent: m.traffic,
      });
    });
    // The stack's one google_client_config also reads the endpoint back at plan time (drift).
    this.rollout = new VertexRollout(this, 'rollout', {
      endpoint: this.endpoint,
      root: props.root,
      accessToken: clientConfig.accessToken,
    });

    // Every endpoint is watched: thresholds and windows from `alerts:` (defaults when absent).
    const alerts = env.alerts;
    const channels = new NotificationChannels(this, 'notification-channels', {
      project: env.project,
      emails: alerts.emails,
      existingChannels: alerts.channels,
      labels: env.labels,
    });
    this.alarms = new EndpointAlarms(this, 'alarms', {
      endpoint: this.endpoint,
      notificationChannels: channels,
      autoCloseMinutes: alerts.autoCloseMinutes,
      labels: env.labels,
    });
    this.alarms.alarmOnLatency({ thresholdMs: alerts.latencyP99Ms, windowMinutes: alerts.latencyWindowMinutes });
    this.alarms.alarmOnErrorRate({
      thresholdPercent: alerts.errorRatePercent,
      windowMinutes: alerts.errorRateWindowMinutes,
    });
    // Also shows when the alarms above watch metric names the endpoint does not report under.
    this.alarms.alarmOnNoTraffic({ windowMinutes: alerts.noTrafficWindowMinutes });
    this.alarms.alarmOnSaturation({ windowMinutes: alerts.saturationWindowMinutes });
    this.alarms.alarmOnQueueWait({
      serverMetrics: SERVER_METRIC_TYPES,
      thresholdMs: alerts.queueWaitP99Ms,
      windowMinutes: alerts.queueWaitWindowMinutes,
    });
    if (this.deployments.some((d) => d.spec.machineSpec.acceleratorType)) {
      this.alarms.alarmOnGpuDutyCycle({
        thresholdPercent: alerts.gpuDutyCyclePercent,
        windowMinutes: alerts.gpuWindowMinutes,
      });
    }
    this.dashboard = new EndpointDashboard(this, 'dashboard', {
      endpoint: this.endpoint,
      labels: env.labels,
      serverMetrics: SERVER_METRIC_TYPES,
    });
    // Alert policies, channels and the dashboard are Cloud Monitoring resources: on a new project
    // they wait for its API like everything else.
    const monitoringApi = this.services.resourceOf('monitoring.googleapis.com').fqn;
    for (const scope of [this.alarms, this.dashboard, channels]) {
      for (const r of scope.node.findAll()) {
        if (r instanceof TerraformResource) r.dependsOn = [monitoringApi];
      }
    }
    // A production endpoint and repository outlive a `cdktf destroy` (and a replacement) unless
    // stacks.yaml says allowDestroy: Terraform refuses the whole plan before changing anything.
    if (env.production && !env.allowDestroy) {
      for (const r of [this.endpoint.resource, this.repository.resource]) {
        r.lifecycle = { ...r.lifecycle, preventDestroy: true };
      }
    }
    addServingPolicies(this, { labels: env.labels, production: env.production, allowPublic: env.endpoint.allowPublic });

    new TerraformOutput(this, 'repository_url', {
      value: this.repository.repositoryUrl,
      description: 'Artifact Registry repository images are pushed to',
    });
    new TerraformOutput(this, 'image_uri', {
      value: this.image.imageUri,
      description:
        "The environment's serving image, pinned by digest: what another environment's image.uri promotes (docs/deploying.md#promoting-a-tested-image)",
    });
    new TerraformOutput(this, 'model_images', {
      value: Object.fromEntries(this.deployments.map((d) => [d.model.key, d.model.image.imageUri])),
      description: 'The image each model version runs, pinned by digest (a model entry image pins its own)',
    });
    new TerraformOutput(this, 'endpoint_name', {
      value: this.endpoint.endpointName,
      description: 'Vertex AI endpoint (projects/.../endpoints/<id>)',
    });
    if (this.endpoint.access === 'private-psc' && this.rollout.serviceAttachment) {
      new TerraformOutput(this, 'psc_service_attachment', {
        value: this.rollout.serviceAttachment,
        description: 'Service attachment a consumer forwarding rule targets (known once a model is deployed)',
      });
    }
    new TerraformOutput(this, 'peak_gpus', {
      value: blueGreenPeakGpus(this.deployments.map((d) => d.spec)),
      description:
        'GPUs per type (Spot apart) a rollout may hold at once in the region: every deployment replaced blue/green, old and new at max replicas; the quota it needs (docs/operations.md#gpu-quota)',
    });
    new TerraformOutput(this, 'deployed_model_ids', {
      value: Object.fromEntries(this.deployments.map((d) => [d.model.key, d.deployedModelId])),
      description: 'DeployedModel id of each model version (see README: Models, endpoints and rollouts)',
    });
  }

  /**
   * Builds and pushes the environment's image to its repository. The push and the digest lookup use
   * the caller's own Google credentials (gcloud ADC): no key files.
   */
  private buildImage(
    env: EnvironmentConfig,
    clientConfig: googleClientConfig.DataGoogleClientConfig,
    props: ServingStackProps,
  ): ServingImage {
    new dockerProvider.DockerProvider(this, 'docker', {
      registryAuth: [
        { address: this.repository.registryHost, username: 'oauth2accesstoken', password: clientConfig.accessToken },
      ],
    });
    return new ServingImage(this, 'image', {
      repository: this.repository,
      context: env.image.context,
      imageName: env.image.name,
      dockerfile: env.image.dockerfile,
      buildArgs: env.image.buildArgs,
      root: props.root,
      contextHash: props.contextHash,
    });
  }
}

/**
 * A CPU model's serving profile as the server's environment: the thread layout computed from the
 * machine type's vCPUs, so that `cdktf diff` shows it (the schema refuses a profile on GPU machines).
 */
function profileEnv(profile: ServingProfile, machineType: string): Record<string, string> {
  const vcpus = machineVcpus(machineType);
  if (vcpus === undefined) return { SERVING_PROFILE: profile };
  const layout = cpuThreadLayout(profile, vcpus);
  return {
    SERVING_PROFILE: profile,
    WORKERS: String(layout.workers),
    INTRA_OP_THREADS: String(layout.intraOpThreads),
  };
}

/** A stacks.yaml probe as VertexModel takes it: `path` is an HTTP GET on the serving port. */
function probe(p: NonNullable<ModelConfig['probes']>['startup']): ModelProbe | undefined {
  if (!p) return undefined;
  const { path, exec, ...timing } = p;
  return { ...(path !== undefined ? { httpGet: { path } } : { exec: { command: exec ?? [] } }), ...timing };
}
