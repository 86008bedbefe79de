import { Construct } from 'constructs';
import { DRIFT_LABEL, type ManifestInput, STATE_LABEL } from '../../contract/manifest';
import { FINGERPRINT_FIELDS, liveFingerprint } from '../../contract/live-state';
import {
  DataResource,
  Lazy,
  type TerraformResource,
  TerraformLocal,
  TerraformStack,
  Token,
  dataHttp,
  httpProvider,
} from '../cdk';
import { pathFromStackDir } from '../private/stack-path';
import { PropsValidator } from '../private/validation';
import { servedVersionsProblems } from '../../rules/vertex';
import { type VertexEndpoint } from './endpoint';

/** Props of {@link VertexRollout}. */
export interface VertexRolloutProps {
  /**
   * The endpoint whose deployed models and traffic split the rollout owns: it carries exactly the
   * endpoint's {@link VertexEndpoint.deployments} (read at synthesis, so they may be added after
   * the rollout); anything else on it is undeployed.
   */
  readonly endpoint: VertexEndpoint;
  /**
   * Upper bound of each long-running operation (upload, deploy, resize, undeploy), seconds.
   * @default - 3600, or the longest model `deploymentTimeoutSeconds` plus 900 when that is more
   */
  readonly operationTimeoutSeconds?: number;
  /**
   * The project root (where cdktf.json and `deployer/` are).
   * @default process.cwd()
   */
  readonly root?: string;
  /**
   * An OAuth access token of whoever plans (e.g. the stack's `google_client_config` data source's
   * `accessToken`): with it, the endpoint is read back at plan time and a hand-made change to it
   * plans a rollout that puts it back. Pass the stack's one `google_client_config`, not a new one.
   * @default - no plan-time read, so no drift detection and no `serviceAttachment`
   */
  readonly accessToken?: string;
}

/**
 * Makes an endpoint serve its declared deployments with their traffic split, through the
 * project's deployer (`deployer/cli.ts`), since the google provider has no resource to upload or
 * deploy a model (hashicorp/terraform-provider-google#15303, #23372, #25152):
 *
 * - `Apply` (`terraform_data`) holds the whole manifest in `triggers_replace`, so `cdktf diff` shows
 *   every change to models, deployments or traffic, and each change runs `deployer apply` (a
 *   create-time `local-exec`). It has no destroy-time action: its replacement must never undeploy.
 * - `Teardown` (`terraform_data`) depends on the endpoint and runs `deployer destroy` when it is
 *   destroyed, so `cdktf destroy` undeploys everything before the endpoint is deleted. It is
 *   replaced only with the endpoint itself, so it stays put across rollouts.
 * - With `accessToken`, an `http` data source reads the endpoint at plan time; when what it serves
 *   differs from what the deployer last recorded in the endpoint's labels, `triggers_replace.drift`
 *   changes and the plan shows a rollout that puts it back. Only a 404 (no endpoint yet) or a
 *   disabled API counts as "nothing there"; any other failure fails the plan instead of flipping
 *   the drift trigger.
 */
export class VertexRollout extends Construct {
  /** The resource whose replacement runs `deployer apply`. */
  readonly apply: DataResource;
  /** The resource whose destruction runs `deployer destroy`. */
  readonly teardown: DataResource;
  /**
   * The Private Service Connect service attachment consumers point their forwarding rule at, read
   * from the endpoint at plan time (empty until a model is deployed; undefined without `accessToken`).
   */
  readonly serviceAttachment?: string;

  private readonly endpoint: VertexEndpoint;
  private readonly operationTimeoutSeconds?: number;

  constructor(scope: Construct, id: string, props: VertexRolloutProps) {
    super(scope, id);
    new PropsValidator('VertexRollout')
      .integer('operationTimeoutSeconds', props.operationTimeoutSeconds, 60, 24 * 3600)
      .throwIfInvalid(this.node.path);
    const endpoint = props.endpoint;
    this.endpoint = endpoint;
    this.operationTimeoutSeconds = props.operationTimeoutSeconds;
    this.node.addValidation({ validate: () => validateRollout(endpoint) });

    const endpointRef = { project: endpoint.project, region: endpoint.region, endpointId: endpoint.endpointId };
    const cli = pathFromStackDir(this, props.root ?? process.cwd(), 'deployer/cli.ts');
    // ts-node with swc transpiles the CLI when it runs: nothing to build first, nothing to forget.
    const command = (verb: string) => `node -r ts-node/register ${cli} ${verb}`;
    const tsNode = { TS_NODE_SWC: 'true', TS_NODE_TRANSPILE_ONLY: 'true' };
    // What depends on the deployments is rendered at synthesis, so deployments added to the
    // endpoint after this rollout are carried too.
    const timeout = Lazy.numberValue({ produce: () => this.timeoutSeconds() });
    const grants = () => [
      ...new Set(
        endpoint.deployments.flatMap((d) => [
          ...d.serviceAccount.grants,
          ...(d.model.artifacts ? [d.model.artifacts.grant] : []),
          ...(d.model.imageGrant ? [d.model.imageGrant] : []),
        ]),
      ),
    ];

    // Keyed on the endpoint's computed id, which is unknown whenever the endpoint is replaced: then
    // Teardown is replaced first, undeploying from the old endpoint so it can be deleted, and Apply
    // runs again for the new one. Anything else changes Teardown in place, which never undeploys.
    const endpointInstance = { endpoint: endpoint.endpointName };
    this.teardown = new DataResource(this, 'Teardown', {
      triggersReplace: endpointInstance,
      input: { endpoint: endpointRef, operationTimeoutSeconds: timeout },
      provisioners: [
        {
          type: 'local-exec',
          when: 'destroy',
          command: command('destroy'),
          environment: { ...tsNode, DEPLOYER_MANIFEST: '${jsonencode(self.output)}' },
        },
      ],
    });
    // Grants outlive the deployments: at destroy, models are undeployed before their identity goes.
    this.teardown.dependsOn = lazyDependsOn(grants);
    const live = props.accessToken === undefined ? undefined : this.readLive(endpoint, props.accessToken);
    const drift = live?.drift;
    if (live) {
      this.serviceAttachment = `\${try(${live.body.fqn}.deployedModels[0].privateEndpoints.serviceAttachment, "")}`;
    }
    this.apply = new DataResource(this, 'Apply', {
      triggersReplace: {
        ...endpointInstance,
        manifest: Lazy.anyValue({ produce: () => this.manifest }),
        ...(drift === undefined ? {} : { drift }),
      },
      provisioners: [
        {
          type: 'local-exec',
          command: command('apply'),
          environment: { ...tsNode, DEPLOYER_MANIFEST: '${jsonencode(self.triggers_replace.manifest)}' },
        },
      ],
    });
    this.apply.dependsOn = lazyDependsOn(() => [this.teardown, ...grants()]);
  }

  /** The manifest handed to the deployer: the endpoint's deployments as they are now. */
  get manifest(): ManifestInput {
    const deployments = this.endpoint.deployments;
    return {
      endpoint: { project: this.endpoint.project, region: this.endpoint.region, endpointId: this.endpoint.endpointId },
      models: Object.fromEntries(deployments.map((d) => [d.model.key, d.model.spec])),
      deployments: Object.fromEntries(deployments.map((d) => [d.deployedModelId, d.spec])),
      operationTimeoutSeconds: this.timeoutSeconds(),
    };
  }

  /** Deploying also provisions the GPUs, so allow the longest model deploymentTimeout plus 15 minutes. */
  private timeoutSeconds(): number {
    const longest = Math.max(0, ...this.endpoint.deployments.map((d) => d.model.deploymentTimeoutSeconds ?? 0));
    return this.operationTimeoutSeconds ?? Math.max(3600, longest + 900);
  }

  /**
   * Reads the endpoint at plan time. `drift` is `none` while the endpoint serves what the deployer
   * last recorded (or does not exist yet: HTTP 404, or the API is not enabled yet); otherwise the fingerprint of what it serves
   * now. After the deployer puts a hand-made change back, it records that fingerprint in a label,
   * which `drift` then returns, so the next plan is empty again. The fingerprint is built from
   * FINGERPRINT_FIELDS, the same list `liveFingerprint` (contract/live-state.ts) uses.
   */
  private readLive(endpoint: VertexEndpoint, accessToken: string): { body: TerraformLocal; drift: string } {
    const stack = TerraformStack.of(this);
    if (!stack.node.tryFindChild('http')) new httpProvider.HttpProvider(stack, 'http');
    // Built from literals, not the endpoint's attributes, so it is read at plan time even when
    // the endpoint itself has changes pending.
    const url = `https://${endpoint.region}-aiplatform.googleapis.com/v1/projects/${endpoint.project}/locations/${endpoint.region}/endpoints/${endpoint.endpointIdLiteral}`;
    const read = new dataHttp.DataHttp(this, 'Live', {
      url,
      requestHeaders: { Authorization: `Bearer ${accessToken}` },
      // Connection errors, 429 and 5xx are retried (hashicorp/http uses go-retryablehttp's default
      // policy); a status still not 200 or 404 after that fails the plan (postcondition below), so a
      // passing outage never flips the drift trigger and plans a spurious rollout.
      retry: { attempts: 3, minDelayMs: 1000, maxDelayMs: 10_000 },
      lifecycle: {
        postcondition: [
          {
            condition: `\${self.status_code == 200 || ${nothingThere('self')}}`,
            errorMessage: `Cannot read Vertex endpoint ${endpoint.endpointIdLiteral} for drift detection: HTTP \${self.status_code} (401/403: the planning identity needs aiplatform.endpoints.get; 429/5xx: try again). \${substr(self.response_body, 0, 300)}`,
          },
        ],
      },
    });
    const body = new TerraformLocal(this, 'live_endpoint', `\${try(jsondecode(${read.fqn}.response_body), {})}`);
    const placeholders = [...FINGERPRINT_FIELDS.map(() => '%v'), '%v'].join(':');
    const args = [
      ...FINGERPRINT_FIELDS.map((f) => `try(dm.${f.path.join('.')}, ${JSON.stringify(f.absent)})`),
      `try(${body.fqn}.trafficSplit[dm.id], 0)`,
    ].join(', ');
    const fingerprint = new TerraformLocal(
      this,
      'live_fingerprint',
      `\${substr(sha256(join(",", sort([for dm in try(${body.fqn}.deployedModels, []) : format("${placeholders}", ${args})]))), 0, 16)}`,
    );
    const recorded = `try(${body.fqn}.labels["${STATE_LABEL}"], "${liveFingerprint({})}")`;
    return {
      body,
      drift: `\${${nothingThere(read.fqn)} ? "none" : (${fingerprint.fqn} == ${recorded} ? try(${body.fqn}.labels["${DRIFT_LABEL}"], "none") : ${fingerprint.fqn})}`,
    };
  }
}

/**
 * Whether the plan-time read found no endpoint: HTTP 404, or the Vertex API not enabled yet (403
 * SERVICE_DISABLED, on the first plan of a new project, whose apply enables it). `strcontains`
 * needs Terraform 1.5, the version docs/deploying.md asks for.
 */
function nothingThere(read: string): string {
  return `(${read}.status_code == 404 || (${read}.status_code == 403 && strcontains(${read}.response_body, "SERVICE_DISABLED")))`;
}

/**
 * `depends_on` rendered at synthesis: Terraform addresses (`type.name`), as cdktf writes them for
 * a `dependsOn` given at construction.
 */
function lazyDependsOn(resources: () => readonly TerraformResource[]): string[] {
  return Token.asList(
    Lazy.listValue({ produce: () => resources().map((r) => `${r.terraformResourceType}.${r.friendlyUniqueId}`) }),
  );
}

function validateRollout(endpoint: VertexEndpoint): string[] {
  const deployments = endpoint.deployments;
  // Traffic adds up to 100 and each model version once: the same rule as stacks.yaml (rules/vertex.ts).
  const problems = servedVersionsProblems(
    deployments.map((d) => ({ key: d.model.key, traffic: d.trafficPercent })),
    (i) => deployments[i].node.path,
  ).map(
    (p) =>
      `${p.index === undefined ? '' : `${deployments[p.index].node.path}: `}${p.message} (endpoint ${endpoint.node.path})`,
  );
  const ids = new Map<string, string>();
  for (const d of deployments) {
    const other = ids.get(d.deployedModelId);
    if (other)
      problems.push(
        `${d.node.path} and ${other} have the same DeployedModel id ${d.deployedModelId}; give one of them another displayName or deployedModelId`,
      );
    ids.set(d.deployedModelId, d.node.path);
  }
  return problems;
}
