import { type TerraformStack } from 'cdktf';
import { GoogleProvider } from '@cdktf/provider-google/lib/provider';
import { ArtifactRegistryRepository, EndpointAlarms, ProjectServices, RequiredLabelsAspect } from '../../constructs';
import { endpointIn } from '../monitoring/fixtures';
import { policyErrors, stackWithAspect } from './helpers';

const ENV_LABELS = { app: 'detector', owner: 'ml-platform' };

/** A stack checked against ENV_LABELS, with the given provider default labels. */
function stackWith(defaultLabels?: Record<string, string>): TerraformStack {
  const stack = stackWithAspect(new RequiredLabelsAspect(ENV_LABELS));
  new GoogleProvider(stack, 'google', { project: 'acme-ml-dev', region: 'us-central1', defaultLabels });
  return stack;
}

const repository = (stack: TerraformStack, labels?: Record<string, string>) =>
  new ArtifactRegistryRepository(stack, 'repo', {
    repositoryId: 'serving',
    location: 'us-central1',
    project: 'acme-ml-dev',
    labels,
  });

describe('RequiredLabelsAspect', () => {
  test('fires on a resource with labels when neither it nor the provider carries an environment label', () => {
    // GIVEN a provider without default labels and a repository labelled with something else
    const stack = stackWith();
    repository(stack, { team: 'x' });
    // WHEN
    const errors = policyErrors(stack);
    // THEN
    expect(errors).toEqual([
      expect.stringMatching(
        /^\[stack\/repo\/Resource\] \[policy required-labels\] google_artifact_registry_repository stack\/repo\/Resource has none of the environment's labels \(app=detector, owner=ml-platform\) neither in its `labels` nor in the google provider's `default_labels`\. Fix: set `labels` in stacks\.yaml/,
      ),
    ]);
  });

  test('judges the default_labels the plan holds: a hyphenated key given as defaultLabels is snake-cased there', () => {
    // GIVEN an environment label with a hyphen, set through the provider's defaultLabels, which
    // cdktf renders as `cost_center` (hashicorp/terraform-cdk#2681)
    const stack = stackWithAspect(new RequiredLabelsAspect({ 'cost-center': 'ml-42' }));
    new GoogleProvider(stack, 'google', {
      project: 'acme-ml-dev',
      region: 'us-central1',
      defaultLabels: { 'cost-center': 'ml-42' },
    });
    repository(stack);
    // WHEN
    const errors = policyErrors(stack);
    // THEN the repository does not carry the label the plan was asked for
    expect(errors).toEqual([expect.stringMatching(/has none of the environment's labels \(cost-center=ml-42\)/)]);
  });

  test('passes a hyphenated key set as a default_labels override, which the plan holds as written', () => {
    // GIVEN the label written through an override, as ServingStack does
    const stack = stackWithAspect(new RequiredLabelsAspect({ 'cost-center': 'ml-42' }));
    new GoogleProvider(stack, 'google', { project: 'acme-ml-dev', region: 'us-central1' }).addOverride(
      'default_labels',
      {
        'cost-center': 'ml-42',
      },
    );
    repository(stack);
    // WHEN / THEN
    expect(policyErrors(stack)).toEqual([]);
  });

  test('passes when the provider default_labels carry one (they reach every resource with `labels`)', () => {
    // GIVEN
    const stack = stackWith({ app: 'detector' });
    repository(stack);
    // THEN
    expect(policyErrors(stack)).toEqual([]);
  });

  test('passes when the resource carries one in its own labels', () => {
    // GIVEN
    const stack = stackWith();
    repository(stack, { owner: 'ml-platform' });
    // THEN
    expect(policyErrors(stack)).toEqual([]);
  });

  test('a label with the right key but another value does not count', () => {
    // GIVEN
    const stack = stackWith({ app: 'other' });
    repository(stack);
    // THEN
    expect(policyErrors(stack)).toHaveLength(1);
  });

  test('fires on user_labels resources (alert policies) even when the provider has default_labels', () => {
    // GIVEN the provider labels, which never reach an alert policy
    const stack = stackWith(ENV_LABELS);
    new EndpointAlarms(stack, 'alarms', { endpoint: endpointIn(stack) }).alarmOnLatency();
    // WHEN
    const errors = policyErrors(stack);
    // THEN
    expect(errors).toEqual([
      expect.stringMatching(
        /^\[stack\/alarms\/Latency\/Policy\] \[policy required-labels\] google_monitoring_alert_policy .* in its `user_labels` \(the provider's `default_labels` do not reach this resource type\)\. Fix: pass the environment labels/,
      ),
    ]);
  });

  test('passes user_labels resources that carry an environment label', () => {
    // GIVEN
    const stack = stackWith(ENV_LABELS);
    new EndpointAlarms(stack, 'alarms', { endpoint: endpointIn(stack), labels: ENV_LABELS }).alarmOnLatency();
    // THEN
    expect(policyErrors(stack)).toEqual([]);
  });

  test('skips resources that take no labels, and does nothing when the environment has none', () => {
    // GIVEN API enablement (no labels) under a checked stack, and an unlabelled repository in an environment without labels
    const checked = stackWith();
    new ProjectServices(checked, 'services', { project: 'acme-ml-dev', services: ['aiplatform.googleapis.com'] });
    const unlabelled = stackWithAspect(new RequiredLabelsAspect({}));
    new GoogleProvider(unlabelled, 'google', { project: 'acme-ml-dev' });
    repository(unlabelled);
    // THEN
    expect(policyErrors(checked)).toEqual([]);
    expect(policyErrors(unlabelled)).toEqual([]);
  });
});
