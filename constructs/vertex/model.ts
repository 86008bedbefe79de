import { Construct } from 'constructs';
import { type ModelVersionSpec, servedFingerprint } from '../../contract/manifest';
import { GCS_URI, PROJECT_ID, REGION } from '../../rules/gcp-names';
import { PropsValidator } from '../private/validation';
import {
  ENV_VAR_NAME,
  MAX_DEPLOYMENT_TIMEOUT_SECONDS,
  MODEL_ID,
  PROBE_LIMITS,
  type ProbeTimingField,
  RESERVED_VERSION_ALIASES,
  SHARED_MEMORY_MB,
  TENSORRT_CACHE_FOLDER,
  TENSORRT_PRECISIONS,
  VERSION_ALIAS,
  tensorrtEnvProblems,
} from '../../rules/vertex';
import { type TerraformResource } from '../cdk';
import { type IServingImage } from '../registry/pinned-image';
import { VertexArtifactBucket } from './artifact-bucket';

/**
 * A container probe (REST `Probe`,
 * https://cloud.google.com/vertex-ai/docs/reference/rest/v1/ModelContainerSpec#Probe): exactly
 * one of `httpGet`, `exec`, `tcpSocket` or `grpc`.
 */
export interface ModelProbe {
  /** HTTP GET a path (on the container's `port` unless `port` is given). @default - none */
  readonly httpGet?: {
    readonly path: string;
    readonly port?: number;
    readonly host?: string;
    readonly scheme?: 'HTTP' | 'HTTPS';
  };
  /** Run a command in the container; healthy when it exits 0. @default - none */
  readonly exec?: { readonly command: readonly string[] };
  /** Open a TCP connection. @default - none */
  readonly tcpSocket?: { readonly port: number; readonly host?: string };
  /** gRPC health check. @default - none */
  readonly grpc?: { readonly port: number; readonly service?: string };
  /** Seconds between probes (at least 1). @default 10 */
  readonly periodSeconds?: number;
  /** Seconds before a probe times out (at least 1). @default 1 */
  readonly timeoutSeconds?: number;
  /** Consecutive failures before the probe fails (at least 1). @default 3 */
  readonly failureThreshold?: number;
  /** Consecutive successes before the probe passes again (at least 1). @default 1 */
  readonly successThreshold?: number;
  /** Seconds after start before the first probe. @default 0 */
  readonly initialDelaySeconds?: number;
}

/** The serving container (REST `ModelContainerSpec`). Every field is immutable once uploaded: a change uploads a new version. */
export interface ModelContainerProps {
  /** Port the server listens on (Vertex sets `AIP_HTTP_PORT`). @default 8080 */
  readonly port?: number;
  /** Predict route (`AIP_PREDICT_ROUTE`), matching the serving image. @default "/predict" */
  readonly predictRoute?: string;
  /** Health route (`AIP_HEALTH_ROUTE`), matching the serving image. @default "/health" */
  readonly healthRoute?: string;
  /** Overrides the image's ENTRYPOINT (exec form). @default - the image's */
  readonly command?: readonly string[];
  /** Overrides the image's CMD. @default - the image's */
  readonly args?: readonly string[];
  /** Environment variables; names may not start with `AIP_` (Vertex sets those). @default - none */
  readonly env?: Record<string, string>;
  /** Ports that take gRPC prediction requests. @default - none */
  readonly grpcPorts?: readonly number[];
  /** `/dev/shm` size in MB (ONNX Runtime and data loaders use it). @default - Vertex's default */
  readonly sharedMemorySizeMb?: number;
  /** How long Vertex waits for a new replica to become healthy, seconds; at most 7200. @default - Vertex's default */
  readonly deploymentTimeoutSeconds?: number;
  /** Probe deciding when a starting container is up. @default - Vertex's default */
  readonly startupProbe?: ModelProbe;
  /** Readiness probe. @default - GET `healthRoute` */
  readonly healthProbe?: ModelProbe;
  /** Liveness probe; a failing container is restarted. @default - none */
  readonly livenessProbe?: ModelProbe;
}

/** How the serving image's TensorRT provider builds and shares its engines. */
export interface ModelTensorrt {
  /** Engine precision, the container's `TENSORRT_PRECISION`. */
  readonly precision: (typeof TENSORRT_PRECISIONS)[number];
  /**
   * Share the engines through `<artifactUri>/tensorrt-cache/` (`TENSORRT_CACHE_URI`); the serving
   * account needs {@link VertexServingAccount.grantEngineCache} on it. Needs `artifactUri`.
   * @default false
   */
  readonly engineCache?: boolean;
}

/** Props of {@link VertexModel}. */
export interface VertexModelProps {
  /** Project the model is uploaded to. */
  readonly project: string;
  /** Region (the endpoint's). */
  readonly region: string;
  /** Model id, the same for every version: up to 63 lowercase letters, digits, `_` and `-`. */
  readonly modelId: string;
  /** Version alias naming this version, e.g. `v3`; `default` is Vertex's own. */
  readonly versionAlias: string;
  /** The serving image, pinned by digest: a {@link ServingImage} the stack builds, or a {@link PinnedImage}. */
  readonly image: IServingImage;
  /** `gs://` folder with the model files; reaches the container as `AIP_STORAGE_URI`. @default - none */
  readonly artifactUri?: string;
  /** Display name. @default "<modelId>" */
  readonly displayName?: string;
  /** Description of the model. @default "Managed by cdktf" */
  readonly description?: string;
  /** Labels on the model. @default - none */
  readonly labels?: Record<string, string>;
  /** The container. @default - port 8080, /predict and /health */
  readonly container?: ModelContainerProps;
  /**
   * TensorRT precision and shared engine cache, passed to the container as `TENSORRT_PRECISION`
   * and `TENSORRT_CACHE_URI` (GPU models; `container.env` may not set those).
   * @default - the serving image's own (fp16, no shared cache)
   */
  readonly tensorrt?: ModelTensorrt;
}

/**
 * One version of a Vertex AI model: uploaded by the deployer under `modelId` with the version alias
 * `versionAlias`, so names are stable (`projects/.../models/<modelId>@<versionAlias>`). The google
 * provider has no model resource (hashicorp/terraform-provider-google#25152), so this construct
 * declares the upload request that `VertexRollout` hands to the deployer.
 *
 * A version is immutable: when anything uploaded changes (image, container, artifacts), the
 * deployer uploads a new version and moves the alias to it.
 */
export class VertexModel extends Construct {
  /** Project. */
  readonly project: string;
  /** Region. */
  readonly region: string;
  /** Model id. */
  readonly modelId: string;
  /** Version alias. */
  readonly versionAlias: string;
  /** `<modelId>@<versionAlias>`, the key of this version in the rollout manifest. */
  readonly key: string;
  /** `projects/<p>/locations/<r>/models/<modelId>@<versionAlias>`. */
  readonly versionName: string;
  /**
   * 16 hex characters hashed from everything uploaded but the labels, with the image's content tag
   * for its digest; changes exactly when a new version is needed.
   */
  readonly fingerprint: string;
  /** The upload as the deployer receives it (the image digest is a token until the push). */
  readonly spec: ModelVersionSpec;
  /** How long Vertex waits for a replica of this version to become healthy, seconds, when set. */
  readonly deploymentTimeoutSeconds?: number;
  /**
   * The bucket the artifacts are imported from (checked against the region at plan time, readable
   * by the Vertex AI service agent), when `artifactUri` is set.
   */
  readonly artifacts?: VertexArtifactBucket;
  /** The image this version runs. */
  readonly image: IServingImage;
  /**
   * The grant letting this project's Vertex AI service agent pull {@link image}, when it is in
   * another project; deployments wait for it.
   */
  readonly imageGrant?: TerraformResource;
  /** `gs://` folder the TensorRT engines are shared in (`TENSORRT_CACHE_URI`), when `tensorrt.engineCache` is set. */
  readonly engineCacheUri?: string;

  constructor(scope: Construct, id: string, props: VertexModelProps) {
    super(scope, id);
    const c = props.container ?? {};
    const v = new PropsValidator('VertexModel')
      .matches('project', props.project, PROJECT_ID, 'a GCP project id')
      .matches('region', props.region, REGION, 'a region such as us-central1')
      .matches('modelId', props.modelId, MODEL_ID, 'a Vertex model id')
      .matches('versionAlias', props.versionAlias, VERSION_ALIAS, 'a Vertex version alias')
      .check(
        !RESERVED_VERSION_ALIASES.includes(props.versionAlias),
        'versionAlias',
        props.versionAlias,
        'an alias other than "default", which Vertex keeps for itself',
      )
      .matches('artifactUri', props.artifactUri, GCS_URI, 'a gs:// URI')
      .integer('container.port', c.port, 1, 65535)
      .matches('container.predictRoute', c.predictRoute, /^\/\S*$/, 'a path starting with /')
      .matches('container.healthRoute', c.healthRoute, /^\/\S*$/, 'a path starting with /')
      .integer('container.sharedMemorySizeMb', c.sharedMemorySizeMb, SHARED_MEMORY_MB.min, SHARED_MEMORY_MB.max)
      .integer('container.deploymentTimeoutSeconds', c.deploymentTimeoutSeconds, 1, MAX_DEPLOYMENT_TIMEOUT_SECONDS);
    for (const name of Object.keys(c.env ?? {})) {
      v.matches(
        `container.env.${name}`,
        name,
        ENV_VAR_NAME,
        'a variable name not starting with AIP_ (Vertex sets those)',
      );
    }
    if (props.tensorrt) {
      v.check(
        (TENSORRT_PRECISIONS as readonly string[]).includes(props.tensorrt.precision),
        'tensorrt.precision',
        props.tensorrt.precision,
        `one of ${TENSORRT_PRECISIONS.join(', ')}`,
      );
      v.check(
        !props.tensorrt.engineCache || props.artifactUri !== undefined,
        'tensorrt.engineCache',
        'true without artifactUri',
        'an artifactUri to keep the engines under, or engineCache false',
      );
      for (const p of tensorrtEnvProblems(c.env ?? {}, 'the tensorrt prop')) {
        v.check(false, `container.env.${p.field}`, c.env?.[p.field], `no value: it ${p.message}`);
      }
    }
    for (const [i, p] of (c.grpcPorts ?? []).entries()) v.integer(`container.grpcPorts[${i}]`, p, 1, 65535);
    for (const [name, probe] of [
      ['startupProbe', c.startupProbe],
      ['healthProbe', c.healthProbe],
      ['livenessProbe', c.livenessProbe],
    ] as const) {
      if (probe) validateProbe(v, `container.${name}`, probe);
    }
    v.throwIfInvalid(this.node.path);

    this.project = props.project;
    this.region = props.region;
    this.modelId = props.modelId;
    this.versionAlias = props.versionAlias;
    this.key = `${props.modelId}@${props.versionAlias}`;
    this.deploymentTimeoutSeconds = c.deploymentTimeoutSeconds;
    this.versionName = `projects/${props.project}/locations/${props.region}/models/${this.key}`;
    this.image = props.image;
    this.imageGrant = props.image.grantVertexPull(props.project);
    if (props.artifactUri) {
      this.artifacts = VertexArtifactBucket.of(this, props.artifactUri, props.project, props.region);
    }

    if (props.tensorrt?.engineCache && props.artifactUri) {
      this.engineCacheUri = `${props.artifactUri.replace(/\/+$/, '')}/${TENSORRT_CACHE_FOLDER}/`;
    }
    const env = {
      ...c.env,
      ...(props.tensorrt ? { TENSORRT_PRECISION: props.tensorrt.precision } : {}),
      ...(this.engineCacheUri ? { TENSORRT_CACHE_URI: this.engineCacheUri } : {}),
    };

    const port = c.port ?? 8080;
    const containerSpec = (imageUri: string): Record<string, unknown> =>
      prune({
        imageUri,
        command: c.command ? [...c.command] : undefined,
        args: c.args ? [...c.args] : undefined,
        env:
          Object.keys(env).length > 0
            ? Object.entries(env)
                .sort(([a], [b]) => (a < b ? -1 : 1))
                .map(([name, value]) => ({ name, value }))
            : undefined,
        ports: [{ containerPort: port }],
        predictRoute: c.predictRoute ?? '/predict',
        healthRoute: c.healthRoute ?? '/health',
        grpcPorts: c.grpcPorts?.map((containerPort) => ({ containerPort })),
        // int64 fields travel as strings in REST JSON; a Duration as seconds with an `s`.
        sharedMemorySizeMb: c.sharedMemorySizeMb === undefined ? undefined : String(c.sharedMemorySizeMb),
        deploymentTimeout: c.deploymentTimeoutSeconds === undefined ? undefined : `${c.deploymentTimeoutSeconds}s`,
        startupProbe: c.startupProbe && probeSpec(c.startupProbe, port),
        healthProbe: c.healthProbe && probeSpec(c.healthProbe, port),
        livenessProbe: c.livenessProbe && probeSpec(c.livenessProbe, port),
      });
    const upload = {
      displayName: props.displayName ?? props.modelId,
      description: props.description ?? 'Managed by cdktf',
      artifactUri: props.artifactUri,
      labels: props.labels ?? {},
    };
    // Hashed with the image's content tag, known at synth, instead of its digest, known only after
    // the push; the deployer also compares the digest when it looks the version up (deployer/plan.ts).
    // Labels are left out: they do not change what serves, and a new fingerprint means a new
    // version and a new GPU deployment. New labels reach the versions uploaded after the change.
    this.fingerprint = servedFingerprint({ ...upload, containerSpec: containerSpec(props.image.synthUri) });
    this.spec = {
      modelId: props.modelId,
      versionAlias: props.versionAlias,
      fingerprint: this.fingerprint,
      ...upload,
      containerSpec: containerSpec(props.image.imageUri),
    };
  }
}

function validateProbe(v: PropsValidator, prop: string, p: ModelProbe): void {
  const actions = [p.httpGet, p.exec, p.tcpSocket, p.grpc].filter((a) => a !== undefined).length;
  v.check(actions === 1, prop, `${actions} actions`, 'exactly one of httpGet, exec, tcpSocket or grpc');
  // The same limits the stacks.yaml schema checks (rules/vertex.ts).
  for (const field of Object.keys(PROBE_LIMITS) as ProbeTimingField[]) {
    v.integer(`${prop}.${field}`, p[field], PROBE_LIMITS[field].min, PROBE_LIMITS[field].max);
  }
}

function probeSpec(p: ModelProbe, containerPort: number): Record<string, unknown> {
  return prune({
    httpGet: p.httpGet && prune({ ...p.httpGet, port: p.httpGet.port ?? containerPort }),
    exec: p.exec && { command: [...p.exec.command] },
    tcpSocket: p.tcpSocket && prune({ ...p.tcpSocket }),
    grpc: p.grpc && prune({ ...p.grpc }),
    periodSeconds: p.periodSeconds,
    timeoutSeconds: p.timeoutSeconds,
    failureThreshold: p.failureThreshold,
    successThreshold: p.successThreshold,
    initialDelaySeconds: p.initialDelaySeconds,
  });
}

/** Drops undefined fields, so the plan and the hash hold only what was set. */
function prune(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, value]) => value !== undefined));
}
