import { parseStacksConfig } from '../../config/load';
import { problemsOf } from '../helpers/config';

/** One environment with a single model entry; each test changes one thing. */
function withModel(model: string, endpoint = ''): string {
  return `
environments:
  dev:
    project: acme-ml-dev
${endpoint}    models:
      - ${model}
`;
}

const OK_MODEL =
  '{ name: m, version: v1, artifactUri: gs://acme/m, machine: { type: g2-standard-8, accelerator: NVIDIA_L4 }, traffic: 100 }';

describe('stacks.yaml models and endpoint rules', () => {
  test('a valid model gets its defaults, the accelerator count from the machine type', () => {
    // WHEN
    const dev = parseStacksConfig(withModel(OK_MODEL.replace('g2-standard-8', 'g2-standard-24'))).environments.dev;
    // THEN
    expect(dev.models[0]).toMatchObject({
      spot: false,
      containerLogging: true,
      accessLogging: false,
      replicas: { min: 1 },
    });
  });

  test('an accelerator that does not fit the machine names the YAML path and what fits', () => {
    expect(problemsOf(withModel(OK_MODEL.replace('NVIDIA_L4', 'NVIDIA_TESLA_A100')))).toMatch(
      /stacks\.yaml:6: environments\.dev\.models\[0\]\.machine: accelerator NVIDIA_TESLA_A100 does not fit g2-standard-8 \(G2\); allowed: NVIDIA_L4/,
    );
  });

  test('a model id starting with a hyphen or digit is refused, as the upload API does', () => {
    expect(problemsOf(withModel(OK_MODEL.replace('name: m,', 'name: "-yolo",')))).toMatch(
      /environments\.dev\.models\[0\]\.name: "-yolo" is not a Vertex model id/,
    );
    expect(problemsOf(withModel(OK_MODEL.replace('name: m,', 'name: 9yolo,')))).toMatch(
      /models\[0\]\.name: "9yolo" is not a Vertex model id/,
    );
  });

  test('a wrong accelerator count names the counts allowed', () => {
    expect(
      problemsOf(
        withModel(
          OK_MODEL.replace(
            'g2-standard-8, accelerator: NVIDIA_L4',
            'a2-highgpu-4g, accelerator: NVIDIA_TESLA_A100, count: 2',
          ),
        ),
      ),
    ).toMatch(
      /environments\.dev\.models\[0\]\.machine: a2-highgpu-4g with NVIDIA_TESLA_A100 takes 4 accelerator\(s\) per replica, got 2/,
    );
  });

  test('the reserved version alias "default" is refused', () => {
    expect(problemsOf(withModel(OK_MODEL.replace('version: v1', 'version: default')))).toMatch(
      /environments\.dev\.models\[0\]\.version: "default" is reserved by Vertex/,
    );
  });

  test('version: v3 is an ordinary alias', () => {
    expect(
      parseStacksConfig(withModel(OK_MODEL.replace('version: v1', 'version: v3'))).environments.dev.models[0].version,
    ).toBe('v3');
  });

  test('a deploymentTimeout over 2 hours is refused', () => {
    expect(problemsOf(withModel(OK_MODEL.replace('traffic: 100', 'traffic: 100, deploymentTimeout: 3h')))).toMatch(
      /environments\.dev\.models\[0\]\.deploymentTimeout: "3h" is longer than Vertex's limit of 2h/,
    );
  });

  test('a utilization target above 100 percent is refused', () => {
    expect(
      problemsOf(withModel(OK_MODEL.replace('traffic: 100', 'traffic: 100, autoscaling: { cpuUtilization: 120 }'))),
    ).toMatch(/environments\.dev\.models\[0\]\.autoscaling\.cpuUtilization: 120 is above the maximum 100/);
  });

  test('requestsPerReplica is requests per minute per replica: 500 is fine, 0 is not', () => {
    const model = (n: number) =>
      withModel(OK_MODEL.replace('traffic: 100', `traffic: 100, autoscaling: { requestsPerReplica: ${n} }`));
    expect(parseStacksConfig(model(500)).environments.dev.models[0].autoscaling).toEqual({ requestsPerReplica: 500 });
    expect(problemsOf(model(0))).toMatch(
      /environments\.dev\.models\[0\]\.autoscaling\.requestsPerReplica: 0 is below the minimum 1/,
    );
  });

  test('a deploymentTimeout of 0s is refused with its YAML path', () => {
    expect(problemsOf(withModel(OK_MODEL.replace('traffic: 100', 'traffic: 100, deploymentTimeout: 0s')))).toMatch(
      /stacks\.yaml:6: environments\.dev\.models\[0\]\.deploymentTimeout: "0s" is not a timeout: give at least 1s/,
    );
  });

  test('an N1 machine with more vCPUs than its GPU count allows is refused', () => {
    expect(
      problemsOf(
        withModel(
          OK_MODEL.replace(
            'g2-standard-8, accelerator: NVIDIA_L4',
            'n1-standard-32, accelerator: NVIDIA_TESLA_V100, count: 1',
          ),
        ),
      ),
    ).toMatch(
      /environments\.dev\.models\[0\]\.machine: n1-standard-32 with NVIDIA_TESLA_V100 takes 4, 8 accelerator\(s\) per replica, got 1/,
    );
  });

  test('a 10-digit endpointId is refused', () => {
    expect(problemsOf(withModel(OK_MODEL, '    endpoint: { endpointId: "1234567890" }\n'))).toMatch(
      /environments\.dev\.endpoint\.endpointId: "1234567890" is not an endpoint id of 1 to 9 digits/,
    );
  });

  test('a GPU duty-cycle target without an accelerator is refused', () => {
    expect(
      problemsOf(
        withModel(
          OK_MODEL.replace('g2-standard-8, accelerator: NVIDIA_L4', 'n1-standard-8').replace(
            'traffic: 100',
            'traffic: 100, autoscaling: { acceleratorDutyCycle: 60 }',
          ),
        ),
      ),
    ).toMatch(/environments\.dev\.models\[0\]\.autoscaling\.acceleratorDutyCycle: needs machine\.accelerator set/);
  });

  test('replicas min below 0 is refused (0 is Scale To Zero, tested in scale-to-zero.test.ts)', () => {
    expect(problemsOf(withModel(OK_MODEL.replace('traffic: 100', 'traffic: 100, replicas: { min: -1 }')))).toMatch(
      /environments\.dev\.models\[0\]\.replicas\.min: -1 is below the minimum 0/,
    );
  });

  test('a fractional traffic share is refused', () => {
    expect(problemsOf(withModel(OK_MODEL.replace('traffic: 100', 'traffic: 99.5')))).toMatch(
      /environments\.dev\.models\[0\]\.traffic: expected a whole number, got 99\.5/,
    );
  });

  test('the same model version twice is refused', () => {
    const yaml =
      withModel(OK_MODEL.replace('traffic: 100', 'traffic: 50')) +
      `      - ${OK_MODEL.replace('traffic: 100', 'traffic: 50')}\n`;
    expect(problemsOf(yaml)).toMatch(
      /environments\.dev\.models\[1\]\.version: m@v1 is already declared at models\[0\]/,
    );
  });

  test('private-psc without allowedProjects names the key to add', () => {
    expect(problemsOf(withModel(OK_MODEL, '    endpoint: { access: private-psc }\n'))).toMatch(
      /environments\.dev\.endpoint\.allowedProjects: a private-psc endpoint needs at least one project allowed to connect/,
    );
  });

  test('allowedProjects on a public endpoint is refused', () => {
    expect(problemsOf(withModel(OK_MODEL, '    endpoint: { allowedProjects: [acme-apps-prod] }\n'))).toMatch(
      /environments\.dev\.endpoint: allowedProjects only applies to access: private-psc, not public/,
    );
  });

  test('an environment switching an inherited private-psc endpoint to public is told, at its own endpoint, how to clear the list', () => {
    // GIVEN defaults with a private-psc endpoint, and an environment that makes its endpoint public
    const yaml = `
defaults:
  endpoint: { access: private-psc, allowedProjects: [acme-apps-prod] }
environments:
  dev:
    project: acme-ml-dev
    endpoint: { access: public }
    models:
      - ${OK_MODEL}
`;
    // THEN the message points at the environment, not at defaults, and names the fix
    expect(problemsOf(yaml)).toMatch(
      /stacks\.yaml:7: environments\.dev\.endpoint: allowedProjects only applies to access: private-psc, not public \(got \["acme-apps-prod"\]; to clear a list inherited from defaults, write allowedProjects: \[\]\)/,
    );
    // AND the fix it names works
    expect(
      parseStacksConfig(yaml.replace('{ access: public }', '{ access: public, allowedProjects: [] }')).environments.dev
        .endpoint.access,
    ).toBe('public');
  });

  test('an AIP_ environment variable is refused', () => {
    expect(
      problemsOf(withModel(OK_MODEL.replace('traffic: 100', 'traffic: 100, env: { AIP_HTTP_PORT: "1" }'))),
    ).toMatch(
      /environments\.dev\.models\[0\]\.env\.AIP_HTTP_PORT: "AIP_HTTP_PORT" is not an environment variable name Vertex allows/,
    );
  });
});
