import { Construct } from 'constructs';
import { type TerraformResource, TerraformStack, dataGoogleStorageBucket, storageBucketIamMember } from '../cdk';
import { vertexServiceAgentMember } from '../private/vertex-service-agent';

/**
 * The import-model rules this construct enforces
 * (https://cloud.google.com/vertex-ai/docs/general/import-model): model artifacts must be in a
 * bucket "in a region that matches the regional endpoint you're using", and a bucket in another
 * project must let Vertex AI read them. Vertex AI copies the artifacts at upload with its service
 * agent, `service-PROJECT_NUMBER@gcp-sa-aiplatform.iam.gserviceaccount.com`; the serving
 * container then reads that copy (`AIP_STORAGE_URI`), not the bucket.
 */
const IMPORT_MODEL_DOCS = 'https://cloud.google.com/vertex-ai/docs/general/import-model';

/**
 * The Cloud Storage bucket a model version's artifacts are imported from, one per bucket, region
 * and project in a stack (see {@link of}):
 * - its location is read at plan time, and a bucket that cannot serve the endpoint's region fails
 *   `cdktf diff` with a message naming the bucket, its location and the fix;
 * - the project's Vertex AI service agent may read its objects (`roles/storage.objectViewer` on
 *   that bucket only), which a bucket in another project needs and a bucket in the same project
 *   already allows.
 * Whoever plans needs `storage.buckets.get` on the bucket; whoever applies,
 * `storage.buckets.setIamPolicy`.
 */
export class VertexArtifactBucket extends Construct {
  /** The bucket's name. */
  readonly bucket: string;
  /** The grant to the Vertex AI service agent: uploads must wait for it. */
  readonly grant: TerraformResource;
  private readonly location: dataGoogleStorageBucket.DataGoogleStorageBucket;
  private uniformAccessRequired = false;

  /**
   * The artifact bucket of `gsUri` for a model in `project` / `region`, created at the stack's
   * root the first time it is asked for.
   */
  static of(scope: Construct, gsUri: string, project: string, region: string): VertexArtifactBucket {
    const stack = TerraformStack.of(scope);
    const bucket = gsUri.slice('gs://'.length).split('/')[0];
    const id = `artifacts-${bucket}-${project}-${region}`;
    return (
      (stack.node.tryFindChild(id) as VertexArtifactBucket | undefined) ??
      new VertexArtifactBucket(stack, id, bucket, project, region)
    );
  }

  private constructor(scope: Construct, id: string, bucket: string, project: string, region: string) {
    super(scope, id);
    this.bucket = bucket;
    this.location = new dataGoogleStorageBucket.DataGoogleStorageBucket(this, 'Location', {
      name: bucket,
      lifecycle: {
        postcondition: [
          {
            // Bucket locations are upper case (US-CENTRAL1, EU, NAM4); a dual- or multi-region
            // bucket is refused too, as the documented rule asks for the endpoint's region.
            condition: `\${upper(self.location) == "${region.toUpperCase()}"}`,
            errorMessage: `Model artifacts in gs://${bucket} cannot be imported into ${region}: the bucket's location is \${self.location}, and Vertex AI imports model artifacts only from a bucket in the endpoint's region (${IMPORT_MODEL_DOCS}). Copy the artifacts to a bucket in ${region} (gcloud storage cp -r gs://${bucket}/PATH gs://NEW_BUCKET/PATH) and point the model's artifactUri at it.`,
          },
        ],
      },
    });
    this.grant = new storageBucketIamMember.StorageBucketIamMember(this, 'VertexServiceAgentRead', {
      bucket,
      role: 'roles/storage.objectViewer',
      member: vertexServiceAgentMember(this, project),
    });
  }

  /**
   * Fails `cdktf diff` unless the bucket has uniform bucket-level access, which IAM Conditions on a
   * bucket need (https://cloud.google.com/storage/docs/access-control/iam#conditions); `reason`
   * says what needs them. Asking again adds nothing.
   */
  requireUniformAccess(reason: string): void {
    if (this.uniformAccessRequired) return;
    this.uniformAccessRequired = true;
    const postcondition = [
      ...(this.location.lifecycle?.postcondition ?? []),
      {
        condition: '${self.uniform_bucket_level_access}',
        errorMessage: `gs://${this.bucket} does not have uniform bucket-level access, which ${reason} needs (IAM Conditions on a bucket require it: https://cloud.google.com/storage/docs/access-control/iam#conditions). Enable it (gcloud storage buckets update gs://${this.bucket} --uniform-bucket-level-access) or turn the setting off.`,
      },
    ];
    this.location.lifecycle = { ...this.location.lifecycle, postcondition };
  }
}
