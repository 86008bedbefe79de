import { spawnSync } from 'node:child_process';
import { REPO_ROOT } from './helpers/paths';
import { mainScript } from './serving-image/helpers/build';

/** This process's environment without any model setting, as on a fresh clone. */
function envWithoutModel(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { MODEL_PATH: _m, AIP_STORAGE_URI: _s, LABELS_PATH: _l, ...rest } = process.env;
  return { ...rest, CHECKPOINT_DISABLE: '1', ...extra };
}

function npmRunServe(env: NodeJS.ProcessEnv) {
  return spawnSync('npm', ['run', '--silent', 'serve'], { cwd: REPO_ROOT, env, encoding: 'utf8', timeout: 60_000 });
}

describe('npm run serve without a model', () => {
  test('prints what is missing, the export command and docs/models.md, and exits 2 without starting the server', () => {
    // GIVEN neither MODEL_PATH nor AIP_STORAGE_URI is set
    // WHEN a new user runs the README's command
    const result = npmRunServe(envWithoutModel());
    // THEN the guidance is plain text on stderr, the exit code is 2, and no server log line was written
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^npm run serve: no model: neither MODEL_PATH nor AIP_STORAGE_URI is set\.$/m);
    expect(result.stderr).toMatch(/^ {2}mkdir -p models && cd models && yolo export model=yolo11n\.pt format=onnx/m);
    expect(result.stderr).toMatch(/^ {2}MODEL_PATH=models\/yolo11n\.onnx EXECUTION_PROVIDERS=cpu npm run serve$/m);
    expect(result.stderr).toMatch(/docs\/models\.md$/m);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(result.stdout).not.toMatch(/"severity"/);
  });

  test('a MODEL_PATH that names no file is reported with the path it looked for', () => {
    // GIVEN MODEL_PATH names a file that does not exist
    // WHEN the server is started with npm
    const result = npmRunServe(envWithoutModel({ MODEL_PATH: 'models/not-there.onnx' }));
    // THEN the same guidance names the resolved path, and it exits 2
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(
      `no model at MODEL_PATH=models/not-there.onnx (looked for ${REPO_ROOT}/models/not-there.onnx)`,
    );
    expect(result.stderr).toMatch(/docs\/models\.md$/m);
  });
});

describe('the server started without a model', () => {
  test('writes one JSON line naming the export command and docs/models.md, and exits 2', () => {
    // GIVEN the compiled server and an environment without a model
    // WHEN it is started directly, as the container does
    const result = spawnSync(process.execPath, [mainScript], {
      cwd: REPO_ROOT,
      env: envWithoutModel(),
      encoding: 'utf8',
      timeout: 30_000,
    });
    // THEN stdout is exactly one JSON log line, CRITICAL, whose problem says how to get a model
    expect(result.status).toBe(2);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]) as { severity: string; problems: string[] };
    expect(entry.severity).toBe('CRITICAL');
    expect(entry.problems).toEqual([
      expect.stringMatching(
        /^no model: set MODEL_PATH .* or AIP_STORAGE_URI .*; to get a detector as ONNX, export one with Ultralytics \(`yolo export model=yolo11n\.pt format=onnx`\): see docs\/models\.md$/,
      ),
    ]);
  });
});
