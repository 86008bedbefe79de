import { type IConstruct } from 'constructs';
import { type IAspect, vertexAiEndpoint } from '../cdk';
import { reportViolation } from './violation';

/** Options of {@link PublicEndpointAspect}. */
export interface PublicEndpointAspectOptions {
  /** The environment is marked `production: true`. */
  readonly production: boolean;
  /** stacks.yaml `endpoint.allowPublic`: the environment deliberately keeps an internet-facing endpoint. */
  readonly allowPublic: boolean;
}

/**
 * A production environment may not expose an endpoint to the internet unless it says so
 * (`endpoint.allowPublic: true`).
 *
 * Checked on every `google_vertex_ai_endpoint`, whichever construct made it: an endpoint is
 * internet-facing unless it uses Private Service Connect or a VPC network. That includes
 * `dedicated` endpoints, which are public endpoints with their own DNS name
 * (https://cloud.google.com/vertex-ai/docs/predictions/choose-endpoint-type).
 */
export class PublicEndpointAspect implements IAspect {
  constructor(private readonly options: PublicEndpointAspectOptions) {}

  visit(node: IConstruct): void {
    if (!this.options.production || this.options.allowPublic || !(node instanceof vertexAiEndpoint.VertexAiEndpoint)) {
      return;
    }
    const psc = node.privateServiceConnectConfigInput?.enablePrivateServiceConnect;
    if (psc === true || node.networkInput !== undefined) return;
    const kind = node.dedicatedEndpointEnabledInput === true ? 'a dedicated public endpoint' : 'a public endpoint';
    reportViolation(
      node,
      'public-endpoint',
      `endpoint ${node.node.path} is ${kind}, reachable from the internet, in a production environment`,
      'set `endpoint.access: private-psc` with `endpoint.allowedProjects` in stacks.yaml, or, if it must stay public, `endpoint.allowPublic: true`',
    );
  }
}
