import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { loadStacksConfig, parseStacksConfig, stacksFilePath } from '../../config/load';
import { REPO_ROOT } from '../helpers/paths';
import { problemsOf } from '../helpers/config';

/** A minimal valid environment, to which each test adds one mistake. */
const VALID = `
environments:
  dev:
    project: acme-ml-dev
`;

describe('the example stacks.yaml', () => {
  test('is accepted as it is, with defaults merged into every environment', () => {
    // WHEN
    const config = loadStacksConfig(path.join(REPO_ROOT, 'stacks.yaml'));
    // THEN
    expect(Object.keys(config.environments)).toEqual(['staging', 'prod']);
    const prod = config.environments.prod;
    expect(prod.region).toBe('europe-west4'); // own key wins
    expect(config.environments.staging.region).toBe('us-central1'); // from defaults
    expect(prod.labels).toEqual({ app: 'detector', owner: 'ml-platform' });
    expect(prod.image).toMatchObject({ repository: 'serving', context: 'serving-image', keepVersions: 10 });
    expect(prod.endpoint).toMatchObject({ access: 'private-psc', allowedProjects: ['acme-apps-prod'] });
    expect(prod.models.map((m) => m.traffic)).toEqual([90, 10]);
    expect(prod.state).toEqual({ bucket: 'acme-terraform-state', prefix: 'detector/prod' });
  });
});

describe('defaults', () => {
  test('objects merge key by key and lists are replaced', () => {
    // GIVEN
    const yaml = `
defaults:
  labels: { app: detector, owner: ml }
  image: { keepVersions: 5 }
  endpoint: { access: private-psc, allowedProjects: [acme-apps-one] }
environments:
  dev:
    project: acme-ml-dev
    labels: { owner: team-b }
    image: { repository: other }
    endpoint: { allowedProjects: [acme-apps-two] }
`;
    // WHEN
    const dev = parseStacksConfig(yaml).environments.dev;
    // THEN
    expect(dev.labels).toEqual({ app: 'detector', owner: 'team-b' });
    expect(dev.image).toMatchObject({ keepVersions: 5, repository: 'other' });
    expect(dev.endpoint.allowedProjects).toEqual(['acme-apps-two']);
  });

  test('an environment without models, alerts or state gets the documented defaults', () => {
    const dev = parseStacksConfig(VALID).environments.dev;
    expect(dev).toMatchObject({
      region: 'us-central1',
      labels: {},
      production: false,
      models: [],
      image: { repository: 'serving', name: 'server', context: 'serving-image', keepVersions: 10 },
      endpoint: { access: 'public', allowPublic: false },
    });
    expect(dev.state).toBeUndefined();
  });
});

describe('mistakes', () => {
  test('an unknown top-level key suggests the nearest known key', () => {
    expect(problemsOf(`enviroments:\n  dev: { project: acme-ml-dev }\n`)).toMatch(
      /stacks\.yaml:1: enviroments: unknown key "enviroments" \(did you mean "environments"\?\)/,
    );
  });

  test('an unknown nested key names its full path and the nearest key', () => {
    expect(problemsOf(`${VALID}    image: { keepVersion: 3 }\n`)).toMatch(
      /environments\.dev\.image\.keepVersion: unknown key "keepVersion" \(did you mean "keepVersions"\?\)/,
    );
  });

  test('replicas min greater than max names the model by index', () => {
    const yaml = `${VALID}    models:
      - { name: m, version: v1, artifactUri: gs://acme/m, machine: { type: g2-standard-8 }, traffic: 50 }
      - { name: m, version: v2, artifactUri: gs://acme/m, machine: { type: g2-standard-8 }, replicas: { min: 4, max: 2 }, traffic: 50 }
`;
    expect(problemsOf(yaml)).toMatch(
      /stacks\.yaml:7: environments\.dev\.models\[1\]\.replicas: min \(4\) is greater than max \(2\)/,
    );
  });

  test('a number out of range names the value and the limit', () => {
    expect(problemsOf(`${VALID}    image: { keepVersions: 0 }\n`)).toMatch(
      /environments\.dev\.image\.keepVersions: 0 is below the minimum 1/,
    );
  });

  test('a fraction where a whole number is needed says so', () => {
    expect(problemsOf(`${VALID}    image: { keepVersions: 2.5 }\n`)).toMatch(
      /environments\.dev\.image\.keepVersions: expected a whole number, got 2\.5/,
    );
  });

  test('a value of the wrong type names what was expected and what was given', () => {
    expect(problemsOf(`environments:\n  dev:\n    project: 42\n`)).toMatch(
      /stacks\.yaml:3: environments\.dev\.project: expected a GCP project id, got the number 42$/m,
    );
  });

  test('a missing required key says it is required', () => {
    expect(problemsOf(`environments:\n  dev:\n    region: us-east1\n`)).toMatch(
      /environments\.dev\.project: is required \(a string\)/,
    );
  });

  test('a bad enum value lists the allowed values and the nearest one', () => {
    expect(problemsOf(`${VALID}    endpoint: { access: privat-psc }\n`)).toMatch(
      /environments\.dev\.endpoint\.access: "privat-psc" is not allowed \(did you mean "private-psc"\?\); allowed: "public", "dedicated", "private-psc"/,
    );
  });

  test('a malformed project id shows the expected pattern', () => {
    expect(problemsOf(`environments:\n  dev:\n    project: Acme_Prod\n`)).toMatch(
      /environments\.dev\.project: "Acme_Prod" is not a GCP project id/,
    );
  });

  test('traffic that does not add up to 100 lists each model share', () => {
    const yaml = `${VALID}    models:
      - { name: m, version: v1, artifactUri: gs://acme/m, machine: { type: g2-standard-8 }, traffic: 80 }
      - { name: m, version: v2, artifactUri: gs://acme/m, machine: { type: g2-standard-8 }, traffic: 10 }
`;
    expect(problemsOf(yaml)).toMatch(
      /environments\.dev\.models: traffic must add up to 100 .* got 90 \(m@v1: 80, m@v2: 10\)/,
    );
  });

  test('an invalid environment name is refused, since it becomes the stack name', () => {
    expect(problemsOf(`environments:\n  Prod_EU:\n    project: acme-ml-dev\n`)).toMatch(
      /environments\.Prod_EU: environment name "Prod_EU" must be lowercase letters/,
    );
  });

  test('no environments at all is an error', () => {
    expect(problemsOf(`environments: {}\n`)).toMatch(/environments: define at least one environment/);
  });

  test('a mistake in defaults is reported once, at its defaults path', () => {
    const message = problemsOf(
      `defaults:\n  region: Europe\nenvironments:\n  a: { project: acme-ml-aaa }\n  b: { project: acme-ml-bbb }\n`,
    );
    expect(message).toMatch(/stacks\.yaml:2: defaults\.region: "Europe" is not a GCP region/);
    expect(message).toMatch(/^stacks\.yaml: 1 problem\n/);
    expect(message).not.toMatch(/environments\.a/);
  });

  test('every problem is reported at once, in file order', () => {
    const message = problemsOf(
      `environments:\n  dev:\n    project: 42\n    regoin: x\n    image: { keepVersions: 0 }\n`,
    );
    expect(message).toMatch(/^stacks\.yaml: 3 problems\n/);
    const lines = message.split('\n').slice(1);
    expect(lines.map((l) => l.match(/stacks\.yaml:(\d+)/)?.[1])).toEqual(['3', '4', '5']);
  });

  test('bad YAML syntax names the file and line', () => {
    expect(problemsOf(`environments:\n  dev: [\n`)).toMatch(/stacks\.yaml:\d+: YAML syntax: /);
  });
});

describe('the stacks file location', () => {
  test('STACKS_FILE overrides stacks.yaml', () => {
    expect(stacksFilePath({ STACKS_FILE: 'envs/other.yaml' })).toBe('envs/other.yaml');
    expect(stacksFilePath({})).toBe('stacks.yaml');
  });

  test('a missing file names the file and the variable to set', () => {
    expect(() => loadStacksConfig('does-not-exist.yaml')).toThrow(
      /does-not-exist\.yaml: 1 problem\n.*file not found .*set STACKS_FILE/,
    );
  });

  test('a file is read from disk and its name appears in messages', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'stacks-'));
    const file = path.join(dir, 'custom.yaml');
    writeFileSync(file, `environments:\n  dev:\n    project: x\n`);
    expect(() => loadStacksConfig(file)).toThrow(/custom\.yaml:3: environments\.dev\.project/);
  });
});
