import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { type AddressInfo } from 'node:net';

/**
 * A local fake of the Vertex AI REST subset the deployer uses, on 127.0.0.1, with the real
 * resource names and field names (models:upload, models.get with `@version`/`@alias`, endpoints
 * get/patch/deployModel/undeployModel/mutateDeployedModel, operations.get), and the rules of the
 * real API the deployer relies on: a model with traffic cannot be undeployed, a traffic split
 * adds up to 100 or is empty and names only deployed models, ids are unique.
 *
 * It also speaks v1beta1 (`/v1beta1/...`) where Scale To Zero needs it, with the rules of
 * https://cloud.google.com/vertex-ai/docs/predictions/autoscaling#scale-to-zero: v1 refuses
 * `minReplicaCount: 0` and `scaleToZeroSpec`; v1beta1 takes them together (this fake refuses
 * `minReplicaCount: 0` without a spec, as the project never sends one), with periods of 300 to
 * 28800 s and an `initialReplicaCount` of 1 to max; a scaled-to-zero model is alone on its
 * endpoint; a v1 read of an endpoint leaves `scaleToZeroSpec` out. And `machineSpec.reservationAffinity`:
 * a known type, `SPECIFIC_RESERVATION` with key `compute.googleapis.com/reservation-name` and one
 * value, and not with Spot.
 */

interface FakeModelVersion {
  name: string;
  versionId: string;
  versionAliases: string[];
  versionDescription?: string;
  displayName: string;
  containerSpec?: Record<string, unknown>;
  artifactUri?: string;
}

export interface FakeDeployedModel {
  id: string;
  model: string;
  modelVersionId: string;
  displayName?: string;
  serviceAccount?: string;
  disableContainerLogging?: boolean;
  privateEndpoints?: { serviceAttachment: string };
  dedicatedResources: {
    machineSpec?: Record<string, any>;
    minReplicaCount: number;
    maxReplicaCount: number;
    initialReplicaCount?: number;
    scaleToZeroSpec?: { minScaleupPeriod?: string; idleScaledownPeriod?: string };
    autoscalingMetricSpecs?: { metricName: string; target: number }[];
    spot?: boolean;
  };
}

export interface FakeEndpoint {
  name: string;
  deployedModels: FakeDeployedModel[];
  trafficSplit: Record<string, number>;
  labels: Record<string, string>;
  /** Private Service Connect: each deployed model then reports the endpoint's service attachment. */
  privateServiceConnect?: boolean;
}

interface PendingOperation {
  /** Polls before done; Infinity for an operation that never finishes on its own. */
  pollsLeft: number;
  /** What a cancel undoes (e.g. a half-done deployment releasing its machines). */
  onCancel?: () => void;
  finish: () => { error?: { code: number; message: string }; response?: Record<string, unknown> };
  result?: { done: true; error?: { code: number; message: string }; response?: Record<string, unknown> };
}

/** An error answer of the Vertex API: `{ error: { code, status, message, details } }`. */
export interface FakeError {
  code: number;
  status: string;
  message: string;
  details?: Record<string, unknown>[];
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export class FakeVertex {
  /** Every request, as `METHOD path` (query string dropped; `v1beta1/` leads a v1beta1 path), in order. */
  readonly requests: string[] = [];
  /** The `x-goog-user-project` header of each request (undefined when absent), in order. */
  readonly quotaProjects: (string | undefined)[] = [];
  readonly endpoints = new Map<string, FakeEndpoint>();
  readonly models = new Map<string, FakeModelVersion[]>();
  /** Polls before an operation reports done. */
  operationPolls = 1;
  private readonly operations = new Map<string, PendingOperation>();
  private readonly injected: number[] = [];
  private readonly failingDeploys = new Map<string, { message: string; code: number }>();
  private readonly hangingDeploys = new Set<string>();
  private readonly vanishingDeploys = new Set<string>();
  private readonly concurrentDeploys = new Set<string>();
  /** Deployed models that appear on their endpoint at its next GET. */
  private readonly appearing: { ep: FakeEndpoint; dm: FakeDeployedModel }[] = [];
  /** DeployedModel id -> its deployModel operation. */
  private readonly deployOps = new Map<string, string>();
  private readonly lostAnswers: string[] = [];
  private readonly refusals: { suffix: string; error: FakeError }[] = [];
  private readonly refusedCopies: { code: number; message: string }[] = [];
  private opCounter = 0;
  private server?: Server;

  /** Creates an empty endpoint, as Terraform's `google_vertex_ai_endpoint` would. */
  addEndpoint(
    project: string,
    region: string,
    id: string,
    options: { privateServiceConnect?: boolean } = {},
  ): FakeEndpoint {
    const ep: FakeEndpoint = {
      name: `projects/${project}/locations/${region}/endpoints/${id}`,
      deployedModels: [],
      trafficSplit: {},
      labels: {},
      privateServiceConnect: options.privateServiceConnect,
    };
    this.endpoints.set(ep.name, ep);
    return ep;
  }

  /** The next requests answer these HTTP statuses, one each, before normal service resumes. */
  injectStatuses(...statuses: number[]): void {
    this.injected.push(...statuses);
  }

  /**
   * A deployModel of this DeployedModel id fails after it appeared on the endpoint (e.g. the container
   * never got healthy), with `code` (a google.rpc.Code: 9 FAILED_PRECONDITION by default, 8
   * RESOURCE_EXHAUSTED for quota). With `neverAppears`, it fails without ever being on the endpoint
   * (e.g. no GPU capacity): undeploying it answers 404.
   */
  failDeployOf(
    deployedModelId: string,
    message: string,
    options: { neverAppears?: boolean; code?: number } = {},
  ): void {
    this.failingDeploys.set(deployedModelId, { message, code: options.code ?? 9 });
    if (options.neverAppears) this.vanishingDeploys.add(deployedModelId);
  }

  /** A deployModel of this DeployedModel id never finishes (until its operation is cancelled). */
  hangDeployOf(deployedModelId: string): void {
    this.hangingDeploys.add(deployedModelId);
  }

  /** The next request whose path ends with `suffix` (e.g. `:deployModel`) is carried out, but answered 503, as if the answer was lost. */
  loseAnswerOf(suffix: string): void {
    this.lostAnswers.push(suffix);
  }

  /**
   * The next deployModel of this id behaves as if an earlier request for it were under way: it
   * answers 409 ALREADY_EXISTS, and the deployed model appears on the endpoint at the next GET of it.
   */
  alreadyDeploying(deployedModelId: string): void {
    this.concurrentDeploys.add(deployedModelId);
  }

  /**
   * The next `times` requests whose path ends with `suffix` (e.g. `:deployModel`) are answered with
   * this error, as Vertex words it (`details` as in google.rpc.Status), and not carried out.
   */
  refuse(suffix: string, times: number, error: FakeError): void {
    for (let i = 0; i < times; i++) this.refusals.push({ suffix, error });
  }

  /**
   * The next `times` uploads are accepted, then their operation ends with `error` (a
   * google.rpc.Status), as when Vertex's service agent may not read the artifacts yet.
   */
  refuseArtifactCopy(times: number, error: { code: number; message: string }): void {
    for (let i = 0; i < times; i++) this.refusedCopies.push(error);
  }

  /** Deployments succeed again. */
  clearDeployFailures(): void {
    this.failingDeploys.clear();
    this.vanishingDeploys.clear();
  }

  /** Requests that changed something (not GETs). */
  mutations(): string[] {
    return this.requests.filter((r) => !r.startsWith('GET '));
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const full = decodeURIComponent(url.pathname)
      .replace(/^\/v1\//, '')
      .replace(/^\//, '');
    this.requests.push(`${req.method} ${full}`);
    const beta = full.startsWith('v1beta1/');
    const path = full.replace(/^v1beta1\//, '');
    this.quotaProjects.push(req.headers['x-goog-user-project'] as string | undefined);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
    const status = this.injected.shift();
    if (status !== undefined) {
      return send(res, status, {
        error: { code: status, status: status === 429 ? 'RESOURCE_EXHAUSTED' : 'UNAVAILABLE', message: 'injected' },
      });
    }
    const refusal = this.refusals.findIndex((r) => path.endsWith(r.suffix));
    if (refusal >= 0) {
      const { error } = this.refusals.splice(refusal, 1)[0];
      return send(res, error.code, { error });
    }
    if (req.headers.authorization !== 'Bearer fake-token') {
      return send(res, 401, { error: { code: 401, status: 'UNAUTHENTICATED', message: 'missing token' } });
    }
    try {
      if (!beta && !/^projects\//.test(path)) throw new HttpError(404, 'NOT_FOUND', `no API version in ${full}`);
      const answer = this.route(req.method ?? 'GET', path, url.searchParams, body, beta);
      const lost = this.lostAnswers.findIndex((suffix) => path.endsWith(suffix));
      if (lost >= 0) {
        this.lostAnswers.splice(lost, 1);
        return send(res, 503, { error: { code: 503, status: 'UNAVAILABLE', message: 'answer lost' } });
      }
      send(res, 200, answer);
    } catch (err) {
      if (err instanceof HttpError) {
        return send(res, err.status, { error: { code: err.status, status: err.reason, message: err.message } });
      }
      send(res, 500, { error: { code: 500, status: 'INTERNAL', message: (err as Error).message } });
    }
  }

  private route(method: string, path: string, query: URLSearchParams, body: any, beta: boolean): unknown {
    let m: RegExpMatchArray | null;
    if (method === 'GET' && /\/operations\/\d+$/.test(path)) return this.poll(path);
    if (method === 'POST' && (m = path.match(/^(.+\/operations\/\d+):cancel$/))) return this.cancel(m[1]);
    if (method === 'POST' && (m = path.match(/^(projects\/[^/]+\/locations\/[^/]+)\/models:upload$/)))
      return this.upload(m[1], body);
    if (method === 'GET' && (m = path.match(/^(projects\/[^/]+\/locations\/[^/]+\/models\/[^/@]+)(?:@(.+))?$/)))
      return this.getModel(m[1], m[2]);
    if ((m = path.match(/^(projects\/[^/]+\/locations\/[^/]+\/endpoints\/\d+)(?::(\w+))?$/))) {
      const ep = this.endpoints.get(m[1]);
      if (!ep) throw new HttpError(404, 'NOT_FOUND', `Endpoint ${m[1]} not found`);
      const verb = m[2];
      if (method === 'GET' && !verb) {
        for (const a of this.appearing.filter((a) => a.ep === ep)) ep.deployedModels.push(a.dm);
        this.appearing.splice(0, this.appearing.length, ...this.appearing.filter((a) => a.ep !== ep));
        return beta ? wireView(ep) : wireView(v1View(ep));
      }
      if (method === 'PATCH' && !verb) return this.patchEndpoint(ep, query.get('updateMask') ?? '', body);
      if (method === 'POST' && verb === 'deployModel') return this.deploy(ep, body, beta);
      if (method === 'POST' && verb === 'undeployModel') return this.undeploy(ep, body);
      if (method === 'POST' && verb === 'mutateDeployedModel') return this.mutate(ep, body, beta);
    }
    throw new HttpError(404, 'NOT_FOUND', `no route for ${method} ${path}`);
  }

  private operation(
    parent: string,
    finish: PendingOperation['finish'],
    hang?: { onCancel: () => void },
  ): { name: string; done: false } {
    const name = `${parent}/operations/${++this.opCounter}`;
    this.operations.set(name, { pollsLeft: hang ? Infinity : this.operationPolls, finish, onCancel: hang?.onCancel });
    return { name, done: false };
  }

  /** operations.cancel: the operation ends with CANCELLED and undoes what it half did. */
  private cancel(name: string): unknown {
    const op = this.operations.get(name);
    if (!op) throw new HttpError(404, 'NOT_FOUND', `operation ${name} not found`);
    if (!op.result) {
      op.onCancel?.();
      op.result = { done: true, error: { code: 1, message: 'CANCELLED' } };
    }
    return {};
  }

  private poll(name: string): unknown {
    const op = this.operations.get(name);
    if (!op) throw new HttpError(404, 'NOT_FOUND', `operation ${name} not found`);
    if (op.result) return { name, ...op.result };
    if (op.pollsLeft-- > 0) return { name, done: false };
    op.result = { done: true, ...op.finish() };
    return { name, ...op.result };
  }

  private getModel(modelName: string, version?: string): FakeModelVersion {
    const versions = this.models.get(modelName);
    const found = versions?.find((v) =>
      version === undefined
        ? v.versionAliases.includes('default')
        : v.versionId === version || v.versionAliases.includes(version),
    );
    if (!found) throw new HttpError(404, 'NOT_FOUND', `Model ${modelName}${version ? `@${version}` : ''} not found`);
    return found;
  }

  private upload(parent: string, body: any): unknown {
    const model = body.model ?? {};
    if (!model.containerSpec?.imageUri)
      throw new HttpError(400, 'INVALID_ARGUMENT', 'model.containerSpec.imageUri is required');
    // The artifact copy refused: the operation ends with the error and no version is created.
    const copyRefused = this.refusedCopies.shift();
    if (copyRefused) return this.operation(parent, () => ({ error: copyRefused }));
    let modelName: string;
    if (body.parentModel) {
      modelName = body.parentModel;
      if (!this.models.has(modelName)) throw new HttpError(404, 'NOT_FOUND', `parent model ${modelName} not found`);
    } else {
      modelName = `${parent}/models/${body.modelId}`;
      if (this.models.has(modelName)) throw new HttpError(409, 'ALREADY_EXISTS', `Model ${modelName} already exists`);
      this.models.set(modelName, []);
    }
    const versions = this.models.get(modelName)!;
    const aliases: string[] = model.versionAliases ?? [];
    for (const v of versions) v.versionAliases = v.versionAliases.filter((a) => !aliases.includes(a));
    const version: FakeModelVersion = {
      name: modelName,
      versionId: String(versions.length + 1),
      versionAliases: versions.length === 0 ? ['default', ...aliases] : aliases,
      versionDescription: model.versionDescription,
      displayName: model.displayName,
      containerSpec: model.containerSpec,
      artifactUri: model.artifactUri,
    };
    versions.push(version);
    return this.operation(parent, () => ({ response: { model: modelName, modelVersionId: version.versionId } }));
  }

  private deploy(ep: FakeEndpoint, body: any, beta: boolean): unknown {
    const dm = body.deployedModel;
    if (!/^\d{1,10}$/.test(dm?.id ?? ''))
      throw new HttpError(400, 'INVALID_ARGUMENT', 'deployedModel.id must be 1 to 10 digits');
    checkResources(dm.dedicatedResources ?? {}, beta);
    checkReservation(dm.dedicatedResources ?? {});
    const scalesToZero = (d: { dedicatedResources: { minReplicaCount: number } }) =>
      d.dedicatedResources.minReplicaCount === 0;
    if (ep.deployedModels.length > 0 && (scalesToZero(dm) || ep.deployedModels.some(scalesToZero)))
      throw new HttpError(
        400,
        'FAILED_PRECONDITION',
        'Scale To Zero is only compatible with single model deployments and one model per endpoint',
      );
    if (ep.deployedModels.some((d) => d.id === dm.id))
      throw new HttpError(409, 'ALREADY_EXISTS', `DeployedModel ${dm.id} already exists`);
    const [modelName, version] = String(dm.model).split('@');
    const mv = this.getModel(modelName, version);
    if (body.trafficSplit !== undefined)
      throw new HttpError(400, 'INVALID_ARGUMENT', 'this fake expects deployModel without trafficSplit');
    const deployed: FakeDeployedModel = {
      id: dm.id,
      model: modelName,
      modelVersionId: mv.versionId,
      displayName: dm.displayName,
      serviceAccount: dm.serviceAccount,
      disableContainerLogging: dm.disableContainerLogging,
      dedicatedResources: dm.dedicatedResources,
      // As Vertex reports it (DeployedModel.privateEndpoints), once a model is deployed.
      ...(ep.privateServiceConnect
        ? {
            privateEndpoints: {
              serviceAttachment: `projects/tenant-${ep.name.split('/').pop()}/regions/${ep.name.split('/')[3]}/serviceAttachments/sa-${ep.name.split('/').pop()}`,
            },
          }
        : {}),
    };
    if (this.concurrentDeploys.delete(dm.id)) {
      this.appearing.push({ ep, dm: deployed });
      throw new HttpError(409, 'ALREADY_EXISTS', `DeployedModel ${dm.id} is already being deployed`);
    }
    if (!this.vanishingDeploys.has(dm.id)) ep.deployedModels.push(deployed);
    const failure = this.failingDeploys.get(dm.id);
    const release = () => {
      ep.deployedModels = ep.deployedModels.filter((d) => d.id !== dm.id);
    };
    const op = this.operation(
      ep.name,
      () => (failure ? { error: failure } : { response: { deployedModel: { id: dm.id } } }),
      this.hangingDeploys.has(dm.id) ? { onCancel: release } : undefined,
    );
    this.deployOps.set(dm.id, op.name);
    return op;
  }

  private undeploy(ep: FakeEndpoint, body: any): unknown {
    const id = body.deployedModelId;
    if (!ep.deployedModels.some((d) => d.id === id))
      throw new HttpError(404, 'NOT_FOUND', `DeployedModel ${id} not found`);
    const deploying = this.deployOps.get(id);
    if (deploying && !this.operations.get(deploying)?.result) {
      throw new HttpError(400, 'FAILED_PRECONDITION', `DeployedModel ${id} is still being deployed`);
    }
    if ((ep.trafficSplit[id] ?? 0) > 0) {
      throw new HttpError(
        400,
        'FAILED_PRECONDITION',
        `DeployedModel ${id} still has ${ep.trafficSplit[id]}% of the traffic`,
      );
    }
    ep.deployedModels = ep.deployedModels.filter((d) => d.id !== id);
    delete ep.trafficSplit[id];
    return this.operation(ep.name, () => ({ response: {} }));
  }

  private mutate(ep: FakeEndpoint, body: any, beta: boolean): unknown {
    const dm = ep.deployedModels.find((d) => d.id === body.deployedModel?.id);
    if (!dm) throw new HttpError(404, 'NOT_FOUND', `DeployedModel ${body.deployedModel?.id} not found`);
    const mask = String(body.updateMask ?? '').split(',');
    // https://cloud.google.com/vertex-ai/docs/reference/rest/v1beta1/projects.locations.endpoints/mutateDeployedModel
    const allowed = [
      'dedicatedResources.minReplicaCount',
      'dedicatedResources.maxReplicaCount',
      'dedicatedResources.autoscalingMetricSpecs',
      ...(beta
        ? ['enableContainerLogging', 'dedicatedResources.scaleToZeroSpec', 'dedicatedResources.initialReplicaCount']
        : ['disableContainerLogging']),
    ];
    const bad = mask.filter((f) => !allowed.includes(f));
    if (bad.length > 0)
      throw new HttpError(400, 'INVALID_ARGUMENT', `cannot mutate ${bad.join(', ')} with ${beta ? 'v1beta1' : 'v1'}`);
    const r = body.deployedModel.dedicatedResources ?? {};
    const stz = mask.includes('dedicatedResources.scaleToZeroSpec')
      ? r.scaleToZeroSpec
      : dm.dedicatedResources.scaleToZeroSpec;
    checkResources({ ...dm.dedicatedResources, ...r, scaleToZeroSpec: stz }, beta);
    dm.dedicatedResources = {
      ...dm.dedicatedResources,
      minReplicaCount: r.minReplicaCount,
      maxReplicaCount: r.maxReplicaCount,
      autoscalingMetricSpecs: r.autoscalingMetricSpecs,
      ...(stz ? { scaleToZeroSpec: stz } : {}),
    };
    dm.disableContainerLogging = beta
      ? !body.deployedModel.enableContainerLogging
      : body.deployedModel.disableContainerLogging;
    return this.operation(ep.name, () => ({ response: {} }));
  }

  private patchEndpoint(ep: FakeEndpoint, updateMask: string, body: any): FakeEndpoint {
    if (updateMask === 'trafficSplit') {
      const split: Record<string, number> = body.trafficSplit ?? {};
      const total = Object.values(split).reduce((a, b) => a + b, 0);
      if (Object.keys(split).length > 0 && total !== 100)
        throw new HttpError(400, 'INVALID_ARGUMENT', `traffic split adds up to ${total}, not 100`);
      const unknown = Object.keys(split).filter((id) => !ep.deployedModels.some((d) => d.id === id));
      if (unknown.length > 0)
        throw new HttpError(400, 'INVALID_ARGUMENT', `traffic split names undeployed models ${unknown.join(', ')}`);
      ep.trafficSplit = { ...split };
    } else if (updateMask === 'labels') {
      ep.labels = { ...(body.labels ?? {}) };
    } else {
      throw new HttpError(400, 'INVALID_ARGUMENT', `this fake does not patch ${updateMask}`);
    }
    return ep;
  }
}

/**
 * The endpoint as the API serializes it: proto3 JSON leaves out fields at their default, so a
 * `minReplicaCount` of 0 (a deployment that scales to zero) is not in the answer at all.
 */
function wireView(ep: FakeEndpoint): FakeEndpoint {
  return {
    ...ep,
    deployedModels: ep.deployedModels.map((dm) => {
      const { minReplicaCount, ...rest } = dm.dedicatedResources;
      return {
        ...dm,
        dedicatedResources: (minReplicaCount === 0 ? rest : dm.dedicatedResources) as typeof dm.dedicatedResources,
      };
    }),
  };
}

/** The endpoint as v1 shows it: v1 has no Scale To Zero fields. */
function v1View(ep: FakeEndpoint): FakeEndpoint {
  return {
    ...ep,
    deployedModels: ep.deployedModels.map((dm) => {
      const { scaleToZeroSpec: _spec, initialReplicaCount: _initial, ...resources } = dm.dedicatedResources;
      return { ...dm, dedicatedResources: resources };
    }),
  };
}

/** Replica bounds and Scale To Zero fields, as each API version takes them. */
function checkResources(r: any, beta: boolean): void {
  const bad = (message: string) => new HttpError(400, 'INVALID_ARGUMENT', message);
  if (!beta && (r.scaleToZeroSpec !== undefined || r.initialReplicaCount !== undefined))
    throw bad(
      'Invalid JSON payload received. Unknown name "scaleToZeroSpec" at \'deployed_model.dedicated_resources\'',
    );
  if (!beta && r.minReplicaCount < 1) throw bad('dedicatedResources.minReplicaCount must be at least 1');
  if (r.minReplicaCount === 0) {
    if (r.scaleToZeroSpec === undefined)
      throw bad('this fake expects minReplicaCount 0 together with dedicatedResources.scaleToZeroSpec');
    for (const field of ['minScaleupPeriod', 'idleScaledownPeriod']) {
      const value = r.scaleToZeroSpec[field];
      const s = Number(/^(\d+)s$/.exec(String(value))?.[1]);
      if (!(s >= 300 && s <= 28800)) throw bad(`scaleToZeroSpec.${field} must be 300s to 28800s, got ${value}`);
    }
    if (
      r.initialReplicaCount !== undefined &&
      !(r.initialReplicaCount >= 1 && r.initialReplicaCount <= r.maxReplicaCount)
    )
      throw bad('initialReplicaCount must be 1 to maxReplicaCount');
  } else if (r.scaleToZeroSpec !== undefined) {
    throw bad('scaleToZeroSpec needs minReplicaCount 0');
  }
}

/** `machineSpec.reservationAffinity` (https://cloud.google.com/vertex-ai/docs/reference/rest/v1/MachineSpec#ReservationAffinity). */
function checkReservation(r: any): void {
  const a = r.machineSpec?.reservationAffinity;
  if (a === undefined) return;
  const bad = (message: string) => new HttpError(400, 'INVALID_ARGUMENT', message);
  if (!['ANY_RESERVATION', 'SPECIFIC_RESERVATION', 'NO_RESERVATION'].includes(a.reservationAffinityType))
    throw bad(`unknown reservationAffinityType ${a.reservationAffinityType}`);
  if (a.reservationAffinityType === 'SPECIFIC_RESERVATION') {
    if (a.key !== 'compute.googleapis.com/reservation-name' || !Array.isArray(a.values) || a.values.length !== 1)
      throw bad('SPECIFIC_RESERVATION needs key compute.googleapis.com/reservation-name and the reservation name');
    if (r.spot) throw bad('Spot VMs cannot consume a specific reservation');
  } else if (a.key !== undefined || a.values !== undefined) {
    throw bad(`${a.reservationAffinityType} takes no key or values`);
  }
  if (!r.machineSpec.acceleratorType) throw bad('Vertex AI consumes reservations only of GPU machines');
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
