/**
 * What each identity needs to plan and apply a synthesized stack, derived from the resource and data
 * source types in its plan: one table entry per type (IAM_NEEDS), so a plan holding a type the table
 * lacks is refused instead of quietly under-reported (npm run iam; __tests__/scripts/iam.test.ts).
 *
 * Roles are Google's predefined ones where one fits without granting much more; where none does (a
 * bucket's IAM policy without its objects), a custom role and its permissions are named.
 * Role contents: https://cloud.google.com/iam/docs/understanding-roles
 */

/** A synthesized stack as `cdktf synth` writes it (cdk.tf.json), the parts read here. */
export interface SynthesizedPlan {
  readonly resource?: Record<string, Record<string, Block>>;
  readonly data?: Record<string, Record<string, Block>>;
  readonly provider?: Record<string, Block[]>;
  readonly terraform?: { readonly backend?: Record<string, Block> };
}

// biome-ignore lint/suspicious/noExplicitAny: Terraform JSON blocks are free-form
type Block = Record<string, any>;

/** The identities the report is for. */
export type Identity = 'person' | 'ciPlan' | 'ciDeploy' | 'serviceAgent';

/** One grant an identity needs: a role on a resource, and why. */
export interface Need {
  /** A predefined role (`roles/...`), or `custom role: <permissions>` where no predefined role fits. */
  readonly role: string;
  /** Where to grant it: `project acme-ml-staging`, `bucket acme-models`, ... */
  readonly on: string;
  /** One line: what in the plan needs it. */
  readonly why: string;
  /** A predefined role that also works, broader than {@link role}. */
  readonly orPredefined?: string;
  /** The stack grants it itself: nothing to do beforehand. */
  readonly grantedByStack?: boolean;
}

/** What one type asks of whoever refreshes it (plan) and whoever creates or changes it (apply). */
interface TypeNeeds {
  /** Reading it: `cdktf diff` refreshes every resource and reads every data source. */
  readonly plan?: (b: Block, ctx: PlanContext) => Need[];
  /** Creating, changing and deleting it: `cdktf deploy`. */
  readonly apply?: (b: Block, ctx: PlanContext) => Need[];
  /** What the Vertex AI service agent needs for it. */
  readonly serviceAgent?: (b: Block, ctx: PlanContext) => Need[];
}

/** What the needs of one block depend on besides the block. */
export interface PlanContext {
  /** The google provider's project: the environment's. */
  readonly project: string;
}

const onProject = (ctx: PlanContext, project?: string) => `project ${literal(project) ?? ctx.project}`;
/** A value that is a Terraform expression (`${...}`) tells nothing here. */
const literal = (v: unknown): string | undefined => (typeof v === 'string' && !v.includes('${') ? v : undefined);

/** Reading a bucket (its location) and its IAM policy: no predefined role has both without object access. */
const BUCKET_READ = 'custom role: storage.buckets.get, storage.buckets.getIamPolicy';
const BUCKET_GRANT = 'custom role: storage.buckets.get, storage.buckets.getIamPolicy, storage.buckets.setIamPolicy';

/** `REGION-docker.pkg.dev/PROJECT/REPOSITORY/...` as `repository PROJECT/REGION/REPOSITORY`. */
function repositoryOf(imageRef: unknown, ctx: PlanContext): string {
  const m = /^([a-z0-9-]+)-docker\.pkg\.dev\/([^/]+)\/([^/]+)\//.exec(String(imageRef));
  return m ? `repository ${m[2]}/${m[1]}/${m[3]}` : `the image repositories of ${onProject(ctx)}`;
}

/** The local-exec command a terraform_data runs, which says what it is. */
function commandOf(b: Block): string {
  return (b.provisioner ?? []).map((p: Block) => String(p['local-exec']?.command ?? '')).join('\n');
}

/**
 * Every resource and data source type the stacks synthesize, with what it needs. `terraform_data`
 * is told apart by the command it runs (the image push or the deployer).
 */
export const IAM_NEEDS: Readonly<Record<string, TypeNeeds>> = {
  google_project_service: {
    plan: (_b, ctx) => [
      { role: 'roles/serviceusage.serviceUsageViewer', on: onProject(ctx), why: 'read which APIs are enabled' },
    ],
    apply: (_b, ctx) => [
      {
        role: 'roles/serviceusage.serviceUsageAdmin',
        on: onProject(ctx),
        why: 'enable the APIs the stack uses (google_project_service)',
      },
    ],
  },
  google_artifact_registry_repository: {
    plan: (_b, ctx) => [
      { role: 'roles/artifactregistry.reader', on: onProject(ctx), why: 'read the image repository' },
    ],
    apply: (_b, ctx) => [
      {
        role: 'roles/artifactregistry.admin',
        on: onProject(ctx),
        why: 'create the image repository and its cleanup policies (only admin may create repositories)',
      },
    ],
  },
  google_artifact_registry_repository_iam_member: {
    plan: (b, ctx) => [
      {
        role: 'roles/iam.securityReviewer',
        on: onProject(ctx, b.project),
        why: "read the IAM policy of the repository another environment's image is pulled from",
      },
    ],
    apply: (b, ctx) => [
      {
        role: 'roles/artifactregistry.admin',
        on: `repository ${literal(b.project) ?? ctx.project}/${b.location}/${literal(b.repository) ?? '(the stack’s)'}`,
        why: "let this project's Vertex AI service agent pull a pinned image from it (setIamPolicy)",
      },
    ],
    serviceAgent: (b, ctx) => [
      {
        role: 'roles/artifactregistry.reader',
        on: `repository ${literal(b.project) ?? ctx.project}/${b.location}/${literal(b.repository) ?? '(the stack’s)'}`,
        why: 'the Vertex AI service agent pulls the pinned serving image from another project',
        grantedByStack: true,
      },
    ],
  },
  'terraform_data:image-push': {
    apply: (b, ctx) => [
      {
        role: 'roles/artifactregistry.writer',
        on: repositoryOf(b.provisioner?.[0]?.['local-exec']?.environment?.IMAGE, ctx),
        why: 'push the serving image (docker push)',
      },
    ],
  },
  'terraform_data:rollout': {
    apply: (_b, ctx) => [
      {
        role: 'roles/aiplatform.user',
        on: onProject(ctx),
        why: 'the deployer: upload model versions, deploy, undeploy and mutate deployed models, split traffic, cancel operations',
      },
    ],
  },
  google_service_account: {
    plan: (_b, ctx) => [
      { role: 'roles/iam.serviceAccountViewer', on: onProject(ctx), why: 'read the serving account' },
    ],
    apply: (_b, ctx) => [
      {
        role: 'roles/iam.serviceAccountAdmin',
        on: onProject(ctx),
        why: 'create the serving account, and grant actAs on it to the deploying identity (setIamPolicy)',
      },
    ],
  },
  google_service_account_iam_member: {
    plan: (_b, ctx) => [
      {
        role: 'roles/iam.securityReviewer',
        on: onProject(ctx),
        why: "read the IAM policies of the stack's grants (project, serving account) at refresh",
      },
    ],
    apply: (b, ctx) => [
      {
        role: 'roles/iam.serviceAccountUser',
        on: `the serving account (${onProject(ctx)})`,
        why: `deploy models that run as it (actAs); granted to ${literal(b.member) ?? 'whoever applies'}`,
        grantedByStack: true,
      },
    ],
  },
  google_project_iam_member: {
    plan: (_b, ctx) => [
      {
        role: 'roles/iam.securityReviewer',
        on: onProject(ctx),
        why: "read the IAM policies of the stack's grants (project, serving account) at refresh",
      },
    ],
    apply: (_b, ctx) => [
      {
        role: 'roles/resourcemanager.projectIamAdmin',
        on: onProject(ctx),
        why: 'grant the serving account logging.logWriter and monitoring.metricWriter (an IAM condition can limit it to those roles)',
      },
    ],
  },
  google_storage_bucket_iam_member: {
    plan: (b) => [
      {
        role: BUCKET_READ,
        on: `bucket ${b.bucket}`,
        why: "read the bucket's IAM policy (the Vertex AI service agent's read grant) at refresh",
        orPredefined: "roles/iam.securityReviewer on the bucket's project",
      },
    ],
    apply: (b) => [
      {
        role: BUCKET_GRANT,
        on: `bucket ${b.bucket}`,
        why: 'let the Vertex AI service agent read the model artifacts (setIamPolicy)',
        orPredefined: 'roles/storage.admin on the bucket',
      },
    ],
    serviceAgent: (b) => [
      {
        role: String(b.role),
        on: `bucket ${b.bucket}`,
        why: 'the Vertex AI service agent copies the model artifacts at upload',
        grantedByStack: true,
      },
    ],
  },
  google_vertex_ai_endpoint: {
    plan: (_b, ctx) => [{ role: 'roles/aiplatform.viewer', on: onProject(ctx), why: 'read the endpoint' }],
    apply: (_b, ctx) => [
      { role: 'roles/aiplatform.user', on: onProject(ctx), why: 'create, update and delete the endpoint' },
    ],
    serviceAgent: (b) => [
      ...(b.encryption_spec?.kms_key_name
        ? [
            {
              role: 'roles/cloudkms.cryptoKeyEncrypterDecrypter',
              on: `key ${b.encryption_spec.kms_key_name}`,
              why: "encrypt the endpoint's data with the CMEK key (grant it before the first deploy)",
            },
          ]
        : []),
      ...(b.predict_request_response_logging_config?.bigquery_destination?.output_uri
        ? [
            {
              role: 'roles/bigquery.dataEditor',
              on: `${b.predict_request_response_logging_config.bigquery_destination.output_uri}`,
              why: 'write request/response logs (needed when the destination is in another project)',
            },
          ]
        : []),
    ],
  },
  google_monitoring_alert_policy: {
    plan: (_b, ctx) => [{ role: 'roles/monitoring.alertPolicyViewer', on: onProject(ctx), why: 'read alert policies' }],
    apply: (_b, ctx) => [
      { role: 'roles/monitoring.alertPolicyEditor', on: onProject(ctx), why: 'create and change the alert policies' },
    ],
  },
  google_monitoring_dashboard: {
    plan: (_b, ctx) => [{ role: 'roles/monitoring.dashboardViewer', on: onProject(ctx), why: 'read the dashboard' }],
    apply: (_b, ctx) => [
      { role: 'roles/monitoring.dashboardEditor', on: onProject(ctx), why: 'create and change the dashboard' },
    ],
  },
  google_monitoring_notification_channel: {
    plan: (_b, ctx) => [
      {
        role: 'roles/monitoring.notificationChannelViewer',
        on: onProject(ctx),
        why: 'read notification channels',
      },
    ],
    apply: (_b, ctx) => [
      {
        role: 'roles/monitoring.notificationChannelEditor',
        on: onProject(ctx),
        why: 'create and change the e-mail notification channels',
      },
    ],
  },
  'data.google_client_config': {},
  'data.google_client_openid_userinfo': {},
  'data.google_project': {
    plan: (b, ctx) => [
      {
        role: 'roles/browser',
        on: onProject(ctx, b.project_id),
        why: "read the project number (the Vertex AI service agent's address)",
      },
    ],
  },
  'data.google_storage_bucket': {
    plan: (b) => [
      {
        role: BUCKET_READ,
        on: `bucket ${b.name}`,
        why: "check at plan time that the artifact bucket is in the endpoint's region",
        orPredefined: "roles/iam.securityReviewer on the bucket's project",
      },
    ],
  },
  'data.docker_registry_image': {
    plan: (b, ctx) => [
      {
        role: 'roles/artifactregistry.reader',
        on: repositoryOf(b.name, ctx),
        why: "read the pushed image's digest",
      },
    ],
  },
  'data.http': {
    plan: (_b, ctx) => [
      {
        role: 'roles/aiplatform.viewer',
        on: onProject(ctx),
        why: 'the drift read: GET the endpoint at plan time, so the plan shows out-of-band changes',
      },
    ],
  },
  'backend.gcs': {
    plan: (b) => [
      {
        role: 'roles/storage.objectUser',
        on: `state bucket ${b.bucket}`,
        why: 'read and write the Terraform state; take and release the state lock (plans lock too)',
      },
    ],
  },
  'backend.local': {},
};

/** Roles that hold every permission of others: the weaker one is not listed next to the stronger. */
const IMPLIES: Readonly<Record<string, readonly string[]>> = {
  'roles/serviceusage.serviceUsageAdmin': ['roles/serviceusage.serviceUsageViewer'],
  'roles/artifactregistry.admin': ['roles/artifactregistry.writer', 'roles/artifactregistry.reader'],
  'roles/artifactregistry.writer': ['roles/artifactregistry.reader'],
  'roles/iam.serviceAccountAdmin': ['roles/iam.serviceAccountViewer'],
  'roles/aiplatform.user': ['roles/aiplatform.viewer'],
  'roles/monitoring.alertPolicyEditor': ['roles/monitoring.alertPolicyViewer'],
  'roles/monitoring.dashboardEditor': ['roles/monitoring.dashboardViewer'],
  'roles/monitoring.notificationChannelEditor': ['roles/monitoring.notificationChannelViewer'],
  [BUCKET_GRANT]: [BUCKET_READ],
};

/** Whether `strong` holds every permission of `weak`: a role it implies, on the same resource or its project. */
const covers = (strong: Need, weak: Need): boolean => {
  const sameOrWider =
    strong.on === weak.on ||
    (strong.on.startsWith('project ') && weak.on.startsWith(`repository ${strong.on.slice('project '.length)}/`));
  const holds =
    (IMPLIES[strong.role] ?? []).includes(weak.role) || (strong.role === weak.role && strong.on !== weak.on);
  return sameOrWider && holds;
};

/** The type a block is looked up under: `terraform_data` is told apart by its command. */
function tableKey(type: string, b: Block): string {
  if (type !== 'terraform_data') return type;
  const command = commandOf(b);
  if (command.includes('push-image.sh')) return 'terraform_data:image-push';
  if (command.includes('deployer/cli.ts')) return 'terraform_data:rollout';
  return 'terraform_data:unknown';
}

/** Every (type key, block) of a plan: resources, `data.` data sources, `backend.` the state backend. */
export function blocksOf(plan: SynthesizedPlan): [string, Block][] {
  return [
    ...Object.entries(plan.resource ?? {}).flatMap(([type, blocks]) =>
      Object.values(blocks).map((b): [string, Block] => [tableKey(type, b), b]),
    ),
    ...Object.entries(plan.data ?? {}).flatMap(([type, blocks]) =>
      Object.values(blocks).map((b): [string, Block] => [`data.${type}`, b]),
    ),
    ...Object.entries(plan.terraform?.backend ?? {}).map(([type, b]): [string, Block] => [`backend.${type}`, b]),
  ];
}

/** What each identity needs for `plan`. */
export interface PermissionReport {
  readonly project: string;
  readonly identities: Readonly<Record<Identity, readonly Need[]>>;
  /** Grants the stack makes itself. */
  readonly grantedByStack: readonly Need[];
}

/**
 * The needs of each identity for a synthesized stack.
 * @throws Error naming every type the table lacks
 */
export function permissionsOf(plan: SynthesizedPlan): PermissionReport {
  const project = String(plan.provider?.google?.[0]?.project ?? '(the provider’s project)');
  const ctx: PlanContext = { project };
  const blocks = blocksOf(plan);
  const unmapped = [...new Set(blocks.map(([k]) => k).filter((k) => !(k in IAM_NEEDS)))];
  if (unmapped.length > 0) {
    throw new Error(
      `no permissions known for ${unmapped.join(', ')}: add them to IAM_NEEDS in scripts/lib/iam-needs.ts`,
    );
  }
  const all = (part: keyof TypeNeeds) => blocks.flatMap(([k, b]) => IAM_NEEDS[k][part]?.(b, ctx) ?? []);
  const plans = all('plan');
  const applies = all('apply');
  const person: Need = {
    role: 'roles/serviceusage.serviceUsageConsumer',
    on: `the quota project of your credentials (gcloud auth application-default set-quota-project ${project})`,
    why: 'user credentials bill the API calls to a quota project',
  };
  const deploy = [...plans, ...applies.filter((n) => !n.grantedByStack)];
  return {
    project,
    identities: {
      person: merge([...deploy, person]),
      ciPlan: merge(plans),
      ciDeploy: merge(deploy),
      serviceAgent: merge(all('serviceAgent').filter((n) => !n.grantedByStack)),
    },
    grantedByStack: merge([...applies, ...all('serviceAgent')].filter((n) => n.grantedByStack)),
  };
}

/** One line per role and resource, with every reason; roles a stronger one on the same resource holds dropped. */
function merge(needs: Need[]): Need[] {
  const byKey = new Map<string, Need>();
  for (const n of needs) {
    const key = `${n.role} @ ${n.on}`;
    const seen = byKey.get(key);
    const whys = seen ? seen.why.split('; ') : [];
    byKey.set(key, { ...n, why: whys.includes(n.why) ? (seen?.why ?? n.why) : [...whys, n.why].join('; ') });
  }
  const merged = [...byKey.values()];
  merged.sort((a, b) => (a.on === b.on ? a.role.localeCompare(b.role) : a.on.localeCompare(b.on)));
  const kept = merged.filter((weak) => !merged.some((strong) => strong !== weak && covers(strong, weak)));
  // The reasons of a dropped role move to the role that holds it.
  return kept.map((n) => {
    const absorbed = merged.filter((weak) => weak !== n && covers(n, weak)).map((w) => w.why);
    return absorbed.length > 0 ? { ...n, why: [n.why, ...absorbed].join('; ') } : n;
  });
}

const TITLES: Record<Identity, (env: string) => string> = {
  person: (env) => `The person deploying (cdktf deploy ${env})`,
  ciPlan: (env) => `The CI plan identity (cdktf diff ${env}, refreshing every resource)`,
  ciDeploy: (env) => `The CI deploy identity (cdktf deploy ${env} --auto-approve, then npm run smoke -- ${env})`,
  serviceAgent: () =>
    'The Vertex AI service agent (service-PROJECT_NUMBER@gcp-sa-aiplatform.iam.gserviceaccount.com), granted beforehand',
};

/** The report as `npm run iam` prints it: one line per role and resource. */
export function formatReport(env: string, report: PermissionReport, types: readonly string[]): string {
  const line = (n: Need) =>
    `  ${n.role} on ${n.on}: ${n.why}${n.orPredefined ? ` (or, predefined and broader: ${n.orPredefined})` : ''}`;
  const section = (title: string, needs: readonly Need[]) =>
    needs.length === 0 ? [] : [`${title}:`, ...needs.map(line), ''];
  // The CI deploy identity needs what the person does but the quota project: said, not repeated.
  const personOnly = report.identities.person.filter(
    (n) => !report.identities.ciDeploy.some((d) => d.role === n.role && d.on === n.on),
  );
  return [
    `Permissions for environment ${env} (project ${report.project}), from its synthesized plan.`,
    `Types in the plan: ${types.join(', ')}`,
    '',
    ...section(TITLES.ciDeploy(env), report.identities.ciDeploy),
    ...section(`${TITLES.person(env)}: the same, and`, personOnly),
    ...section(TITLES.ciPlan(env), report.identities.ciPlan),
    ...section(TITLES.serviceAgent(env), report.identities.serviceAgent),
    ...section('Granted by the stack itself (nothing to do)', report.grantedByStack),
    'Organisation policies that can block a deployment, and what to do: docs/operations.md#organisation-policies',
  ].join('\n');
}
