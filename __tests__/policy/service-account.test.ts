import { ServiceAccountAspect, isDefaultComputeAccount } from '../../constructs';
import { VertexDeployment } from '../../constructs/vertex/deployment';
import { type VertexServingAccount } from '../../constructs/vertex/serving-account';
import { deploymentOn, endpointIn } from '../monitoring/fixtures';
import { policyErrors, stackWithAspect } from './helpers';

describe('ServiceAccountAspect', () => {
  test('fires on a deployment that would run as the Compute Engine default service account', () => {
    // GIVEN a deployment whose account is the default compute one (VertexServingAccount never is,
    // so a stand-in exposing only `email` plays it)
    const stack = stackWithAspect(new ServiceAccountAspect());
    const template = deploymentOn(stack, endpointIn(stack));
    const defaultAccount = {
      email: '123456789012-compute@developer.gserviceaccount.com',
      grants: [],
    } as unknown as VertexServingAccount;
    new VertexDeployment(stack, 'risky', {
      endpoint: template.endpoint,
      model: template.model,
      serviceAccount: defaultAccount,
      machineType: 'g2-standard-8',
      acceleratorType: 'NVIDIA_L4',
    });
    // WHEN
    const errors = policyErrors(stack);
    // THEN
    expect(errors).toEqual([
      '[stack/risky] [policy service-account] deployment yolo26n@v3 (stack/risky) would run as the Compute Engine default service account 123456789012-compute@developer.gserviceaccount.com. ' +
        'Fix: give it a dedicated VertexServingAccount (only what serving needs: read the model artifacts and the image, write logs and metrics), as ServingStack does',
    ]);
  });

  test('passes a deployment with a dedicated VertexServingAccount', () => {
    // GIVEN
    const stack = stackWithAspect(new ServiceAccountAspect());
    deploymentOn(stack, endpointIn(stack));
    // THEN
    expect(policyErrors(stack)).toEqual([]);
  });

  test.each([
    ['123456789012-compute@developer.gserviceaccount.com', true],
    ['${data.google_compute_default_service_account.default.email}', true],
    ['vertex-serving@acme-ml-dev.iam.gserviceaccount.com', false],
    ['compute@acme-ml-dev.iam.gserviceaccount.com', false],
  ])('isDefaultComputeAccount(%s) is %s', (email, expected) => {
    // THEN
    expect(isDefaultComputeAccount(email)).toBe(expected);
  });
});
