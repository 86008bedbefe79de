import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { loadStacksConfig, parseStacksConfig } from '../../config/load';
import { problemsOf, withModel } from '../helpers/config';
import { REPO_ROOT } from '../helpers/paths';

/** Two environments `a` and `b`, each with its own settings text (flow mapping content). */
function twoEnvironments(a: string, b: string, defaults = ''): string {
  return `${defaults}environments:\n  a: { ${a} }\n  b: { ${b} }\n`;
}

describe('stacks.yaml mistakes: environments that would share state or resources', () => {
  test('two environments with the same state bucket and prefix are refused at the second, with a prefix to use', () => {
    // GIVEN two environments writing gs://acme-tf/detector/staging
    const yaml = twoEnvironments(
      'project: acme-ml-aaa, state: { bucket: acme-tf, prefix: detector/staging }',
      'project: acme-ml-bbb, state: { bucket: acme-tf, prefix: detector/staging }',
    );
    // WHEN it is loaded / THEN the second is told to change its prefix
    expect(problemsOf(yaml)).toMatch(
      /stacks\.yaml:3: environments\.b\.state\.prefix: Terraform state gs:\/\/acme-tf\/detector\/staging is already environment a's: .* e\.g\. state\.prefix: detector\/b/,
    );
  });

  test('a state prefix inherited from defaults is shared too', () => {
    // GIVEN a prefix in defaults and two environments using it
    const yaml = twoEnvironments(
      'project: acme-ml-aaa',
      'project: acme-ml-bbb',
      'defaults:\n  state: { bucket: acme-tf, prefix: detector }\n',
    );
    // WHEN it is loaded / THEN the clash is named at the second environment
    expect(problemsOf(yaml)).toMatch(
      /environments\.b\.state: Terraform state gs:\/\/acme-tf\/detector is already environment a's/,
    );
  });

  test('the same bucket without a prefix is fine: each environment gets its own name as prefix', () => {
    // GIVEN two environments in one bucket without prefixes
    const yaml = twoEnvironments(
      'project: acme-ml-aaa, state: { bucket: acme-tf }',
      'project: acme-ml-bbb, state: { bucket: acme-tf }',
    );
    // WHEN it is loaded / THEN both are accepted
    expect(Object.keys(parseStacksConfig(yaml).environments)).toEqual(['a', 'b']);
  });

  test('two environments in one project and region are told to name their own repository and serving account', () => {
    // GIVEN two environments in the same project and region
    const message = problemsOf(twoEnvironments('project: acme-ml-aaa', 'project: acme-ml-aaa'));
    // THEN both clashes are named at the second, with the key and value to write
    expect(message).toMatch(
      /environments\.b\.image\.repository: Artifact Registry repository "serving" in acme-ml-aaa us-central1 is already created by environment a: .*image\.repository: serving-b/,
    );
    expect(message).toMatch(
      /environments\.b\.servingAccountId: service account vertex-serving@acme-ml-aaa\.iam\.gserviceaccount\.com is already created by environment a .*servingAccountId: vertex-serving-b/,
    );
  });

  test('with their own repository and serving account, two environments share a project and region', () => {
    // GIVEN the fix the message suggests
    const yaml = twoEnvironments(
      'project: acme-ml-aaa',
      'project: acme-ml-aaa, image: { repository: serving-b }, servingAccountId: vertex-serving-b',
    );
    // WHEN it is loaded / THEN it is accepted
    expect(parseStacksConfig(yaml).environments.b.servingAccountId).toBe('vertex-serving-b');
  });
});

describe('stacks.yaml mistakes: the image build context', () => {
  test.each([
    [
      'a missing image.context folder',
      'image: { context: no-such-folder }',
      /environments\.dev\.image\.context: build context "no-such-folder" does not exist \(resolved to .*no-such-folder\); image\.context is the folder docker builds, relative to the repository root/,
    ],
    [
      'an image.context that is a file',
      'image: { context: package.json }',
      /environments\.dev\.image\.context: build context "package\.json" is a file, not a folder/,
    ],
    [
      'a missing image.dockerfile',
      'image: { dockerfile: Dockerfile.gpu }',
      /environments\.dev\.image\.dockerfile: Dockerfile "Dockerfile\.gpu" not found in the build context "serving-image" .*image\.dockerfile is relative to image\.context/,
    ],
  ])('%s is refused when the file is loaded', (_case, image, message) => {
    // GIVEN an environment whose build context or Dockerfile is not there
    const yaml = `environments:\n  dev: { project: acme-ml-dev, ${image} }\n`;
    // WHEN it is loaded against the repository / THEN the key and the resolved path are named
    expect(problemsOf(yaml, { root: REPO_ROOT })).toMatch(message);
  });
});

describe('stacks.yaml mistakes: endpoint', () => {
  test('allowPublic on a private-psc endpoint is refused', () => {
    // GIVEN a private endpoint that also says allowPublic
    const yaml =
      'environments:\n  dev:\n    project: acme-ml-dev\n    endpoint: { access: private-psc, allowedProjects: [acme-apps], allowPublic: true }\n';
    // WHEN it is loaded / THEN it is refused with the fix
    expect(problemsOf(yaml)).toMatch(
      /stacks\.yaml:4: environments\.dev\.endpoint\.allowPublic: only applies to a public or dedicated endpoint; .*remove allowPublic/,
    );
  });
});

describe('stacks.yaml mistakes: labels', () => {
  test.each([
    [
      'an uppercase key',
      '{ Team: ml }',
      /labels\.Team: label key "Team" is not allowed: lowercase letters \(international letters allowed\), digits, _ and -, at most 63 characters; keys start with a letter/,
    ],
    [
      'a key starting with a digit',
      '{ 1team: ml }',
      /labels\.1team: label key "1team" is not allowed: lowercase letters/,
    ],
    [
      'a value with a space',
      '{ owner: "ml platform" }',
      /labels\.owner: label value "ml platform" is not allowed: lowercase letters/,
    ],
    [
      'a 64-character value',
      `{ owner: ${'a'.repeat(64)} }`,
      /labels\.owner: label value "a+…" \(64 characters\) is not allowed/,
    ],
    [
      'a value over 127 bytes',
      `{ owner: ${'日'.repeat(43)} }`,
      /labels\.owner: label value "日+…?" .*is 129 bytes in UTF-8; Google allows under 128/,
    ],
  ])('%s names the rule, not "Invalid key in record"', (_case, labels, message) => {
    // GIVEN labels that break Google's rules
    const text = problemsOf(`environments:\n  dev:\n    project: acme-ml-dev\n    labels: ${labels}\n`);
    // THEN the message states the rule
    expect(text).toMatch(message);
    expect(text).not.toMatch(/Invalid key in record/);
  });

  test('international characters are allowed in label keys and values', () => {
    // GIVEN labels in other scripts
    const yaml = 'environments:\n  dev:\n    project: acme-ml-dev\n    labels: { équipe: données, 部門: 機械学習 }\n';
    // WHEN it is loaded / THEN they are kept
    expect(parseStacksConfig(yaml).environments.dev.labels).toEqual({ équipe: 'données', 部門: '機械学習' });
  });
});

describe('stacks.yaml mistakes: durations and bare values', () => {
  test('deploymentTimeout 2h1m gets one message: over the 2 h limit', () => {
    // WHEN a compound duration over the limit is loaded
    const message = problemsOf(withModel(', deploymentTimeout: 2h1m'));
    // THEN one problem, and the right one
    expect(message).toMatch(/^stacks\.yaml: 1 problem\n/);
    expect(message).toMatch(/deploymentTimeout: "2h1m" is longer than Vertex's limit of 2h \(7200s\)/);
  });

  test('a compound duration within the limit is accepted in seconds', () => {
    // WHEN 1h30m is loaded / THEN the stack gets 5400 seconds
    expect(
      parseStacksConfig(withModel(', deploymentTimeout: 1h30m')).environments.dev.models[0].deploymentTimeout,
    ).toBe(5400);
  });

  test('a malformed duration names the accepted forms', () => {
    expect(problemsOf(withModel(', deploymentTimeout: 30 minutes'))).toMatch(
      /deploymentTimeout: "30 minutes" is not a duration: write a number with s, m or h, such as 90s, 30m, 1h30m or 2h/,
    );
  });

  test.each([
    [
      'deploymentTimeout: 30',
      ', deploymentTimeout: 30',
      /deploymentTimeout: expected a duration such as 30m, got the number 30; write it in quotes: "30m" or "30s"/,
    ],
    [
      'an env value 8',
      ', env: { WORKERS: 8 }',
      /env\.WORKERS: expected a string, got the number 8; write it in quotes: "8"/,
    ],
    [
      'an env value true',
      ', env: { DEBUG: true }',
      /env\.DEBUG: expected a string, got the boolean true; write it in quotes: "true"/,
    ],
  ])('%s says what to write', (_case, extra, message) => {
    expect(problemsOf(withModel(extra))).toMatch(message);
  });

  test('a numeric label value is told to quote it', () => {
    expect(problemsOf('environments:\n  dev:\n    project: acme-ml-dev\n    labels: { cost-center: 1234 }\n')).toMatch(
      /labels\.cost-center: expected a label value, got the number 1234; write it in quotes: "1234"/,
    );
  });
});

describe('stacks.yaml mistakes: YAML syntax', () => {
  test("a syntax error is shown once, without the parser's advice", () => {
    // GIVEN a list left open, which the parser reports three times
    const message = problemsOf('environments:\n  dev:\n    project: [acme\n    region: x\n  qa:\n    project: q\n');
    // THEN one line, saying what to do
    expect(message).toMatch(
      /^stacks\.yaml: 1 problem\n {2}stacks\.yaml:4: YAML syntax: .*close the \[ or \{ on the line that opens it/,
    );
    expect(message).not.toMatch(/parseAllDocuments|at line \d+, column/);
  });

  test('a second document says to remove the ---, not to call parseAllDocuments()', () => {
    expect(problemsOf('environments:\n  dev: { project: acme-ml-dev }\n---\nx: 1\n')).toMatch(
      /stacks\.yaml:3: YAML syntax: the file holds more than one YAML document; .*remove the `---` line/,
    );
  });

  test('a duplicate key is named with both lines, and does not hide the other problems', () => {
    // GIVEN a key written twice and a misspelt key
    const message = problemsOf(
      'environments:\n  dev:\n    project: acme-ml-dev\n    project: acme-ml-dev\n    regoin: x\n',
    );
    // THEN both are reported
    expect(message).toMatch(
      /stacks\.yaml:4: environments\.dev\.project: duplicate key "project" \(also at line 3; the last one would win\): keep one/,
    );
    expect(message).toMatch(/stacks\.yaml:5: environments\.dev\.regoin: unknown key "regoin"/);
  });
});

describe('stacks.yaml mistakes: STACKS_FILE', () => {
  test('STACKS_FILE at a missing file says it is set, and to what', () => {
    // GIVEN STACKS_FILE naming a file that does not exist
    const env = { STACKS_FILE: 'envs/missing.yaml' };
    // WHEN it is loaded / THEN the message does not tell to set what is set
    expect(() => loadStacksConfig(undefined, { env })).toThrow(
      /envs\/missing\.yaml: file not found: STACKS_FILE is set to "envs\/missing\.yaml" \(resolved to .*\); point it at an existing stacks file, or unset it/,
    );
  });

  test('STACKS_FILE at a folder says so, without EISDIR', () => {
    // GIVEN STACKS_FILE naming a folder
    const dir = mkdtempSync(path.join(tmpdir(), 'stacks-dir-'));
    // WHEN it is loaded / THEN the message names the file to give
    expect(() => loadStacksConfig(undefined, { env: { STACKS_FILE: dir } })).toThrow(
      /is a folder, not a file .*point STACKS_FILE at the YAML file, e\.g\. .*stacks\.yaml/,
    );
    expect(() => loadStacksConfig(undefined, { env: { STACKS_FILE: dir } })).not.toThrow(/EISDIR/);
  });

  test('a missing stacks.yaml without STACKS_FILE suggests setting it', () => {
    // GIVEN no STACKS_FILE, run from a folder without stacks.yaml
    const cwd = process.cwd();
    process.chdir(mkdtempSync(path.join(tmpdir(), 'stacks-cwd-')));
    try {
      // WHEN / THEN
      expect(() => loadStacksConfig(undefined, { env: {} })).toThrow(/stacks\.yaml: file not found .*set STACKS_FILE/);
    } finally {
      process.chdir(cwd);
    }
  });
});

describe('stacks.yaml mistakes: messages', () => {
  test('a GPU machine with a misspelt accelerator key is not called CPU-only', () => {
    // GIVEN a GPU machine whose accelerator key is misspelt, with a GPU duty-cycle target
    const message = problemsOf(
      withModel(', autoscaling: { acceleratorDutyCycle: 60 }', 'type: g2-standard-8, accelerater: NVIDIA_L4'),
    );
    // THEN the misspelling and the missing accelerator are named, nothing about CPU-only
    expect(message).toMatch(/machine\.accelerater: unknown key "accelerater" \(did you mean "accelerator"\?\)/);
    expect(message).toMatch(/machine: g2-standard-8 is a GPU machine type: set accelerator to NVIDIA_L4/);
    expect(message).not.toMatch(/CPU-only/);
  });

  test('a very long value is cut in the message, with its length', () => {
    // GIVEN a 5000-character region
    const message = problemsOf(`environments:\n  dev: { project: acme-ml-dev, region: ${'x'.repeat(5000)} }\n`);
    // THEN the message stays short
    expect(message).toMatch(/region: "x+…" \(5000 characters\) is not a GCP region/);
    expect(message.length).toBeLessThan(300);
  });

  test('a file written to disk is checked against its build context too', () => {
    // GIVEN a stacks file with a build context that does not exist, loaded from the repository root
    const dir = mkdtempSync(path.join(tmpdir(), 'stacks-'));
    const file = path.join(dir, 'stacks.yaml');
    writeFileSync(file, 'environments:\n  dev: { project: acme-ml-dev, image: { context: nowhere } }\n');
    // WHEN / THEN
    expect(() => loadStacksConfig(file, { root: REPO_ROOT })).toThrow(
      /stacks\.yaml:2: environments\.dev\.image\.context: build context "nowhere" does not exist/,
    );
  });
});

describe('stacks.yaml mistakes: model artifacts', () => {
  test('an artifactUri naming the .onnx file instead of its folder is refused, with the folder to use', () => {
    // GIVEN a model whose artifactUri points at the model file
    const yaml = `
environments:
  dev:
    project: acme-ml-dev
    models:
      - { name: m, version: v1, artifactUri: gs://acme/m/v1/model.onnx, machine: { type: g2-standard-8, accelerator: NVIDIA_L4 }, traffic: 100 }
`;
    // WHEN it is loaded / THEN the problem is at its line and names the folder
    expect(problemsOf(yaml)).toMatch(
      /stacks\.yaml:6: environments\.dev\.models\[0\]\.artifactUri: "gs:\/\/acme\/m\/v1\/model\.onnx" names a file; artifactUri is the folder holding it: "gs:\/\/acme\/m\/v1" \(docs\/models\.md\)/,
    );
  });
});
