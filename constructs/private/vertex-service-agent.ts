import { type Construct } from 'constructs';
import { TerraformStack, dataGoogleProject } from '../cdk';

/**
 * The IAM member of `project`'s Vertex AI service agent,
 * `service-PROJECT_NUMBER@gcp-sa-aiplatform.iam.gserviceaccount.com`: it imports model artifacts
 * and pulls serving images (https://cloud.google.com/vertex-ai/docs/general/access-control#service-agents).
 * The project number comes from the stack's one read of `project`, created when first asked for.
 */
export function vertexServiceAgentMember(scope: Construct, project: string): string {
  const stack = TerraformStack.of(scope);
  const id = `project-${project}`;
  const read =
    (stack.node.tryFindChild(id) as dataGoogleProject.DataGoogleProject | undefined) ??
    new dataGoogleProject.DataGoogleProject(stack, id, { projectId: project });
  return `serviceAccount:service-${read.number}@gcp-sa-aiplatform.iam.gserviceaccount.com`;
}
