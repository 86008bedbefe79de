import { type IConstruct } from 'constructs';
import { Aspects } from '../cdk';
import { EndpointAlertsAspect } from './endpoint-alerts';
import { ImageDigestAspect } from './image-digest';
import { PublicEndpointAspect } from './public-endpoint';
import { RequiredLabelsAspect } from './required-labels';
import { ServiceAccountAspect } from './service-account';

export * from './endpoint-alerts';
export * from './image-digest';
export * from './public-endpoint';
export * from './required-labels';
export * from './service-account';

/** Options of {@link addServingPolicies}. */
export interface ServingPoliciesOptions {
  /** The environment's labels; every resource that takes labels must carry one of them. */
  readonly labels: Readonly<Record<string, string>>;
  /** The environment is marked `production: true`. */
  readonly production: boolean;
  /** stacks.yaml `endpoint.allowPublic`. */
  readonly allowPublic: boolean;
}

/**
 * Applies every organisation policy check to `scope` (usually a stack) as Aspects: a violation
 * is an error annotation naming the resource and the fix, and `cdktf synth` fails on it.
 */
export function addServingPolicies(scope: IConstruct, options: ServingPoliciesOptions): void {
  const aspects = Aspects.of(scope);
  aspects.add(new RequiredLabelsAspect(options.labels));
  aspects.add(new PublicEndpointAspect({ production: options.production, allowPublic: options.allowPublic }));
  aspects.add(new EndpointAlertsAspect());
  aspects.add(new ServiceAccountAspect());
  aspects.add(new ImageDigestAspect());
}
