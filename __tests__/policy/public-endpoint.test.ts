import { type EndpointAccess, PublicEndpointAspect } from '../../constructs';
import { endpointIn } from '../monitoring/fixtures';
import { policyErrors, stackWithAspect } from './helpers';

/** Errors of a stack with one endpoint of `access`, checked with the given environment flags. */
function errorsFor(access: EndpointAccess, flags: { production: boolean; allowPublic: boolean }): string[] {
  const stack = stackWithAspect(new PublicEndpointAspect(flags), 'prod');
  endpointIn(stack, access === 'private-psc' ? { access, allowedProjects: ['acme-apps-prod'] } : { access });
  return policyErrors(stack);
}

describe('PublicEndpointAspect', () => {
  test('fires on a public endpoint in a production environment without allowPublic', () => {
    // THEN
    expect(errorsFor('public', { production: true, allowPublic: false })).toEqual([
      '[prod/endpoint/Resource] [policy public-endpoint] endpoint prod/endpoint/Resource is a public endpoint, reachable from the internet, in a production environment. ' +
        'Fix: set `endpoint.access: private-psc` with `endpoint.allowedProjects` in stacks.yaml, or, if it must stay public, `endpoint.allowPublic: true`',
    ]);
  });

  test('fires on a dedicated endpoint too: it is public, with its own DNS name', () => {
    // THEN
    expect(errorsFor('dedicated', { production: true, allowPublic: false })).toEqual([
      expect.stringContaining('is a dedicated public endpoint, reachable from the internet'),
    ]);
  });

  test.each([
    ['a private-psc endpoint in production', 'private-psc', { production: true, allowPublic: false }],
    ['a public endpoint in production with allowPublic', 'public', { production: true, allowPublic: true }],
    ['a public endpoint outside production', 'public', { production: false, allowPublic: false }],
  ] as const)('passes %s', (_, access, flags) => {
    // THEN
    expect(errorsFor(access, flags)).toEqual([]);
  });
});
