import { type IConstruct } from 'constructs';
import { type IAspect, TerraformResource, TerraformStack, Token, googleProvider } from '../cdk';
import { reportViolation } from './violation';

type Labels = Readonly<Record<string, string>>;

/**
 * Every Google resource that takes labels must carry at least one of the environment's labels
 * (they attribute cost and ownership).
 *
 * What "carries" means depends on how the resource gets labels:
 * - resources with a `labels` argument in the provider's labels model (those with a computed
 *   `terraform_labels` attribute) get `terraform_labels` = the provider's `default_labels` merged
 *   with their own `labels` (https://googlecloudplatform.github.io/magic-modules/best-practices/labels-and-annotations/):
 *   either source counts;
 * - resources with `user_labels` (alert policies, notification channels) do not receive
 *   `default_labels`: only their own `user_labels` count;
 * - other resources (dashboards, IAM members, API enablement...) take no labels and are skipped.
 * A labels map that is an unresolved token (only known at apply) cannot be checked and passes.
 */
export class RequiredLabelsAspect implements IAspect {
  /** @param labels the environment's labels (stacks.yaml `labels`); an empty map disables the check */
  /** Each provider's rendered `default_labels`, read once: every labelled resource asks for them. */
  private readonly rendered = new Map<googleProvider.GoogleProvider | undefined, Labels | undefined>();

  constructor(private readonly labels: Labels) {}

  private defaultLabels(provider: googleProvider.GoogleProvider | undefined): Labels | undefined {
    if (!this.rendered.has(provider)) this.rendered.set(provider, defaultLabelsOf(provider));
    return this.rendered.get(provider);
  }

  visit(node: IConstruct): void {
    const wanted = Object.entries(this.labels);
    if (
      wanted.length === 0 ||
      !TerraformResource.isTerraformResource(node) ||
      !node.terraformResourceType.startsWith('google_')
    ) {
      return;
    }
    const resource = node as TerraformResource & Record<string, unknown>;
    let carried: Labels;
    let where: string;
    if ('terraformLabels' in resource) {
      const own = resource.labelsInput as Labels | undefined;
      const defaults = this.defaultLabels(providerOf(resource));
      if (isUnresolved(own) || isUnresolved(defaults)) return;
      carried = { ...defaults, ...own };
      where = "neither in its `labels` nor in the google provider's `default_labels`";
    } else if ('userLabelsInput' in resource) {
      const own = resource.userLabelsInput as Labels | undefined;
      if (isUnresolved(own)) return;
      carried = own ?? {};
      where = "in its `user_labels` (the provider's `default_labels` do not reach this resource type)";
    } else {
      return;
    }
    if (!wanted.some(([k, v]) => carried[k] === v)) {
      reportViolation(
        node,
        'required-labels',
        `${node.terraformResourceType} ${node.node.path} has none of the environment's labels (${formatLabels(this.labels)}) ${where}`,
        resource.terraformResourceType.startsWith('google_monitoring_')
          ? 'pass the environment labels to the construct (e.g. `labels` of EndpointAlarms / NotificationChannels), as ServingStack does'
          : "set `labels` in stacks.yaml (they become the provider's default_labels) or give the resource `labels` in code",
      );
    }
  }
}

/** The google provider configuring `resource`: its explicit provider, else the stack's default one. */
function providerOf(resource: TerraformResource): googleProvider.GoogleProvider | undefined {
  if (resource.provider instanceof googleProvider.GoogleProvider) return resource.provider;
  return TerraformStack.of(resource)
    .node.findAll()
    .find(
      (c): c is googleProvider.GoogleProvider => c instanceof googleProvider.GoogleProvider && c.alias === undefined,
    );
}

/**
 * The provider's `default_labels` as the plan holds them: read from its rendered block, overrides
 * included, since cdktf rewrites `defaultLabels` keys (`cost-center` becomes `cost_center`,
 * hashicorp/terraform-cdk#2681) and an override is the way to keep them as written.
 */
function defaultLabelsOf(provider: googleProvider.GoogleProvider | undefined): Labels | undefined {
  if (!provider) return undefined;
  const blocks = provider.toTerraform().provider as Record<string, { default_labels?: Labels }[]>;
  return blocks[provider.terraformResourceType]?.[0]?.default_labels;
}

function isUnresolved(labels: Labels | undefined): boolean {
  return labels !== undefined && Token.isUnresolved(labels);
}

function formatLabels(labels: Labels): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}
