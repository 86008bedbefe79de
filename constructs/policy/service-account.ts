import { type IConstruct } from 'constructs';
import { type IAspect, TerraformStack, resolveTokens } from '../cdk';
import { VertexDeployment } from '../vertex/deployment';
import { reportViolation } from './violation';

/** The Compute Engine default service account: `<project number>-compute@developer.gserviceaccount.com`. */
const DEFAULT_COMPUTE_ACCOUNT = /^[0-9]+-compute@developer\.gserviceaccount\.com$/;

/**
 * Whether `email` (possibly a resolved Terraform expression) is the Compute Engine default
 * service account, literally or read from `google_compute_default_service_account`.
 */
export function isDefaultComputeAccount(email: string): boolean {
  return DEFAULT_COMPUTE_ACCOUNT.test(email) || email.includes('data.google_compute_default_service_account.');
}

/**
 * No deployment may run as the Compute Engine default service account: it has Editor on the
 * whole project by default (https://cloud.google.com/iam/docs/service-account-types),
 * so a compromised model server could change anything in it.
 */
export class ServiceAccountAspect implements IAspect {
  visit(node: IConstruct): void {
    if (!(node instanceof VertexDeployment)) return;
    const email = String(resolveTokens(TerraformStack.of(node), node.spec.serviceAccount));
    if (!isDefaultComputeAccount(email)) return;
    reportViolation(
      node,
      'service-account',
      `deployment ${node.spec.displayName} (${node.node.path}) would run as the Compute Engine default service account ${email}`,
      'give it a dedicated VertexServingAccount (only what serving needs: read the model artifacts and the image, write logs and metrics), as ServingStack does',
    );
  }
}
