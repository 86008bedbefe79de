import { Testing } from 'cdktf';
import { problemsOf, withModel } from '../helpers/config';
import { stacksFromYaml } from '../helpers/synth';
import { VertexServingAccount } from '../../constructs';

/** The synthesized plan of the first stack of `yaml`. */
function planOf(yaml: string): any {
  return JSON.parse(Testing.synth(stacksFromYaml(yaml)[0], true));
}

/** The actAs grants on the serving account. */
function actAsGrants(plan: any): [string, any][] {
  return Object.entries(plan.resource.google_service_account_iam_member ?? {});
}

/** `withModel('')` with `deployer:` set on the environment. */
const withDeployer = (member: string) =>
  withModel('').replace('project: acme-ml-dev', `project: acme-ml-dev\n    deployer: ${member}`);

describe('the identity that applies may act as the serving account it creates', () => {
  test('without deployer:, the applying identity read at plan time gets serviceAccountUser on the serving account alone', () => {
    // GIVEN / WHEN
    const plan = planOf(withModel(''));
    // THEN one grant, on the account, to the provider's own identity, typed by its email
    const grants = actAsGrants(plan);
    expect(grants).toHaveLength(1);
    expect(grants[0][1]).toEqual({
      service_account_id: '${google_service_account.serving-account_EEC293E1.name}',
      role: 'roles/iam.serviceAccountUser',
      member:
        '${endswith(data.google_client_openid_userinfo.applying-identity.email, ".gserviceaccount.com") ? "serviceAccount" : "user"}:${data.google_client_openid_userinfo.applying-identity.email}',
    });
    expect(plan.data.google_client_openid_userinfo).toHaveProperty('applying-identity');
  });

  test('no project-wide serviceAccountUser is granted', () => {
    // GIVEN / WHEN
    const plan = planOf(withModel(''));
    // THEN
    const roles = Object.values(plan.resource.google_project_iam_member).map((g: any) => g.role);
    expect(roles).not.toContain('roles/iam.serviceAccountUser');
  });

  test('the rollout waits for the grant, so the first deploy does not run before it exists', () => {
    // GIVEN
    const plan = planOf(withModel(''));
    const [address] = actAsGrants(plan)[0];
    // THEN
    const apply = Object.entries(plan.resource.terraform_data).find(([k]) => k.startsWith('rollout_Apply'))?.[1] as any;
    expect(apply.depends_on).toContain(`google_service_account_iam_member.${address}`);
  });

  test('deployer: names the identity instead, and nothing is read at plan time', () => {
    // GIVEN CI's deploy account
    const plan = planOf(withDeployer('serviceAccount:ci-deploy@acme-ml-dev.iam.gserviceaccount.com'));
    // THEN
    expect(actAsGrants(plan).map(([, g]) => g.member)).toEqual([
      'serviceAccount:ci-deploy@acme-ml-dev.iam.gserviceaccount.com',
    ]);
    expect(plan.data.google_client_openid_userinfo).toBeUndefined();
  });

  test('a deployer that is not an IAM member is refused, naming the form', () => {
    expect(problemsOf(withDeployer('ci-deploy@acme-ml-dev.iam.gserviceaccount.com'))).toMatch(
      /environments\.dev\.deployer: "ci-deploy@acme-ml-dev\.iam\.gserviceaccount\.com" is not an IAM member such as serviceAccount:/,
    );
  });
});

describe('VertexServingAccount deployers prop', () => {
  test('each deployer gets serviceAccountUser on the account alone', () => {
    // GIVEN a serving account built with two deployers
    const stack = Testing.synthScope((scope) => {
      new VertexServingAccount(scope, 'account', {
        project: 'acme-ml-dev',
        deployers: ['user:me@acme.example', 'serviceAccount:ci@acme-ml-dev.iam.gserviceaccount.com'],
      });
    });
    // WHEN synthesized THEN one actAs grant per deployer, on the account
    const grants = Object.values(JSON.parse(stack).resource.google_service_account_iam_member) as any[];
    expect(grants.map((g) => [g.role, g.member])).toEqual([
      ['roles/iam.serviceAccountUser', 'user:me@acme.example'],
      ['roles/iam.serviceAccountUser', 'serviceAccount:ci@acme-ml-dev.iam.gserviceaccount.com'],
    ]);
  });

  test('a deployer that is not an IAM member is refused, naming it', () => {
    expect(() =>
      Testing.synthScope((scope) => {
        new VertexServingAccount(scope, 'account', { project: 'acme-ml-dev', deployers: ['me@acme.example'] });
      }),
    ).toThrow(/grantActAs\(member\).*me@acme\.example.*an IAM member such as user:me@example\.com/);
  });
});
