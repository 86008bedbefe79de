import { Construct } from 'constructs';
import { type ArtifactRegistryRepository } from '../registry/artifact-registry-repository';
import {
  Fn,
  type TerraformResource,
  TerraformStack,
  Token,
  googleClientOpenidUserinfo,
  projectIamMember,
  serviceAccount,
  serviceAccountIamMember,
  storageBucketIamMember,
} from '../cdk';
import { ACCOUNT_ID, GCS_URI, IAM_MEMBER, PROJECT_ID } from '../../rules/gcp-names';
import { type VertexModel } from './model';
import { PropsValidator } from '../private/validation';

/** Props of {@link VertexServingAccount}. */
export interface VertexServingAccountProps {
  /** Project the account lives in (the endpoint's). */
  readonly project: string;
  /**
   * Account id: 6 to 30 lowercase letters, digits and hyphens, starting with a letter.
   * @default "vertex-serving"
   */
  readonly accountId?: string;
  /**
   * Repository the serving image is pulled from; the account may read it.
   * @default - no repository grant
   */
  readonly repository?: ArtifactRegistryRepository;
  /**
   * `gs://` folders with model artifacts; the account may read objects in their buckets.
   * @default - none
   */
  readonly artifactUris?: readonly string[];
  /**
   * IAM members (`user:`, `serviceAccount:`, `group:`) that deploy models running as this account;
   * see {@link VertexServingAccount.grantActAs}.
   * @default - none
   */
  readonly deployers?: readonly string[];
}

/**
 * The identity deployed models run as: a dedicated service account with only what serving needs
 * (read the model artifacts and the image, write logs and metrics), never the Compute Engine
 * default account, which has Editor on the whole project
 * (https://cloud.google.com/vertex-ai/docs/general/custom-service-account).
 * Whoever deploys a model that runs as it needs `iam.serviceAccounts.actAs` on it, which cannot be
 * granted before it exists: {@link grantActAs} grants it on this account alone, and deployments
 * wait for that grant, so nobody needs `roles/iam.serviceAccountUser` on the whole project.
 */
export class VertexServingAccount extends Construct {
  /** The account. */
  readonly resource: serviceAccount.ServiceAccount;
  /** Email, known at synth: `<id>@<project>.iam.gserviceaccount.com`. */
  readonly email: string;
  /** IAM member string `serviceAccount:<email>`. */
  readonly member: string;
  /** `serviceAccount:` and the resource's email attribute: what grants use. */
  private readonly grantMember: string;
  /** Every grant made to it; a deployment depends on them so it never starts without permissions. */
  readonly grants: TerraformResource[] = [];
  private readonly buckets = new Set<string>();

  constructor(scope: Construct, id: string, props: VertexServingAccountProps) {
    super(scope, id);
    const accountId = props.accountId ?? 'vertex-serving';
    new PropsValidator('VertexServingAccount')
      .matches('project', props.project, PROJECT_ID, 'a GCP project id')
      .matches('accountId', accountId, ACCOUNT_ID, 'a service account id (6 to 30 characters)')
      .throwIfInvalid(this.node.path);
    this.resource = new serviceAccount.ServiceAccount(this, 'Resource', {
      project: props.project,
      accountId,
      displayName: 'Vertex AI model serving (managed by cdktf)',
    });
    this.email = `${accountId}@${props.project}.iam.gserviceaccount.com`;
    this.member = `serviceAccount:${this.email}`;
    // Grants name the account through the resource's attribute (not the literal `member`), so
    // Terraform creates them only once the account exists.
    this.grantMember = `serviceAccount:${this.resource.email}`;
    for (const role of ['roles/logging.logWriter', 'roles/monitoring.metricWriter']) {
      this.grants.push(
        new projectIamMember.ProjectIamMember(this, role.split('/')[1], {
          project: props.project,
          role,
          member: this.grantMember,
        }),
      );
    }
    if (props.repository) this.grants.push(props.repository.grantRead(this.grantMember, `Read-${accountId}`));
    for (const uri of props.artifactUris ?? []) this.grantReadArtifacts(uri);
    for (const [i, member] of (props.deployers ?? []).entries()) this.grantActAs(member, `ActAs-${i}`);
  }

  /**
   * {@link grantActAs} to whoever applies the stack (`cdktf deploy`): the identity of the google
   * provider's credentials, read at plan time (`google_client_openid_userinfo`; the credentials need
   * the `userinfo.email` scope, which gcloud's application-default credentials and an impersonated
   * service account's tokens have). A plan by another identity (a CI plan account) shows the grant
   * moving to it: name the deploying identity with {@link grantActAs} instead where plans and deploys
   * run as different identities.
   */
  grantActAsToApplyingIdentity(): TerraformResource {
    const stack = TerraformStack.of(this);
    const read =
      (stack.node.tryFindChild('applying-identity') as googleClientOpenidUserinfo.DataGoogleClientOpenidUserinfo) ??
      new googleClientOpenidUserinfo.DataGoogleClientOpenidUserinfo(stack, 'applying-identity');
    const kind = Fn.conditional(Fn.endswith(read.email, '.gserviceaccount.com'), 'serviceAccount', 'user');
    return this.grantActAs(`${Token.asString(kind)}:${read.email}`, 'ActAs-applying-identity');
  }

  /**
   * Lets `member` deploy models that run as this account: `roles/iam.serviceAccountUser`
   * (`iam.serviceAccounts.actAs`, which Vertex AI checks on the caller of `deployModel`,
   * https://cloud.google.com/vertex-ai/docs/general/custom-service-account#attach) on this account
   * only. Granting it needs `iam.serviceAccounts.setIamPolicy` here, which the
   * `roles/iam.serviceAccountAdmin` that created the account includes.
   * @param member an IAM member, or an expression giving one at apply time (the applying identity)
   * @param id construct id, unique within this account
   */
  grantActAs(member: string, id = 'ActAs'): TerraformResource {
    new PropsValidator('VertexServingAccount')
      .matches('grantActAs(member)', member, IAM_MEMBER, 'an IAM member such as user:me@example.com')
      .throwIfInvalid(this.node.path);
    const grant = new serviceAccountIamMember.ServiceAccountIamMember(this, id, {
      serviceAccountId: this.resource.name,
      role: 'roles/iam.serviceAccountUser',
      member,
    });
    this.grants.push(grant);
    return grant;
  }

  /**
   * Lets the account read the objects of the bucket holding `gsUri` (`roles/storage.objectViewer`
   * on that bucket only). Granting the same bucket twice is a no-op.
   */
  grantReadArtifacts(gsUri: string): void {
    new PropsValidator('VertexServingAccount')
      .matches('grantReadArtifacts(gsUri)', gsUri, GCS_URI, 'a gs:// URI')
      .throwIfInvalid(this.node.path);
    const bucket = gsUri.slice('gs://'.length).split('/')[0];
    if (this.buckets.has(bucket)) return;
    this.buckets.add(bucket);
    this.grants.push(
      new storageBucketIamMember.StorageBucketIamMember(this, `Artifacts-${bucket}`, {
        bucket,
        role: 'roles/storage.objectViewer',
        member: this.grantMember,
      }),
    );
  }

  /**
   * Lets the account share `model`'s TensorRT engines ({@link VertexModel.engineCacheUri}): read
   * (`roles/storage.objectViewer`) and create (`roles/storage.objectCreator`) objects whose names
   * start with the cache prefix, on that bucket only, through an IAM Condition; nothing else in the
   * bucket, and no overwrite or delete (the server creates each object only if it does not exist).
   * The bucket must have uniform bucket-level access (checked at plan time).
   * @throws Error when the model has no engine cache
   */
  grantEngineCache(model: VertexModel): void {
    const uri = model.engineCacheUri;
    if (!uri || !model.artifacts) {
      throw new Error(
        `${this.node.path}: grantEngineCache(${model.node.path}): the model has no engine cache (tensorrt.engineCache)`,
      );
    }
    const [bucket, ...rest] = uri.slice('gs://'.length).split('/');
    const prefix = rest.join('/');
    model.artifacts.requireUniformAccess('the TensorRT engine cache grant');
    for (const [role, verb] of [
      ['roles/storage.objectViewer', 'Read'],
      ['roles/storage.objectCreator', 'Create'],
    ] as const) {
      this.grants.push(
        new storageBucketIamMember.StorageBucketIamMember(this, `EngineCache${verb}-${model.node.id}`, {
          bucket,
          role,
          member: this.grantMember,
          condition: {
            title: `${verb} TensorRT engine cache`,
            description: `${verb} objects under gs://${bucket}/${prefix} only`,
            expression: `resource.name.startsWith("projects/_/buckets/${bucket}/objects/${prefix}")`,
          },
        }),
      );
    }
  }
}
