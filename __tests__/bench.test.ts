import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { buildTinyModel } from './serving-image/helpers/tiny-model';
import { REPO_ROOT } from './helpers/paths';

/** Runs scripts/bench.ts as `npm run bench` does, without building the server first. */
function runBench(args: string[]) {
  return spawnSync(
    process.execPath,
    [require.resolve('ts-node/dist/bin'), '--swc', path.join(REPO_ROOT, 'scripts', 'bench.ts'), ...args],
    {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
}

describe('npm run bench options', () => {
  test.each([
    [['--slices', '0'], /--slices must be a whole number of at least 1, got "0"/],
    [['--duration', 'ten'], /--duration must be a whole number of at least 1, got "ten"/],
    [['--connections', '1,x'], /--connections must be a whole number of at least 1, got "x"/],
  ])('%j exits 2 naming the option and the bad value, before starting anything', (args, message) => {
    // WHEN the benchmark is started with a bad option
    const result = runBench(args);
    // THEN it names the option and the value, and exits 2 without a stack trace
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });
});

describe('npm run bench without a model', () => {
  test('a --model that does not exist exits 2 naming it and docs/models.md, before starting anything', () => {
    // WHEN the benchmark is pointed at a model file that is not there
    const result = runBench(['--model', '/nonexistent/model.onnx']);
    // THEN it says what to pass and where to read how to get a model, without a stack trace
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(
      /^--model \/nonexistent\/model\.onnx does not exist: pass --model with an ONNX detector \(docs\/models\.md shows how to export one\)$/m,
    );
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });
});

describe('npm run bench --providers', () => {
  test('an unknown provider exits 2 naming the allowed ones', () => {
    // WHEN the benchmark is asked for a provider onnxruntime-node does not have
    const result = runBench(['--providers', 'gpu']);
    // THEN it names the option and the allowed values, and exits 2
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/--providers must be a comma-separated list of tensorrt, cuda, cpu, got "gpu"/);
  });

  test.each(['cuda', 'tensorrt'])(
    '--providers %s where it cannot load exits 1 with the reason, without running on the CPU',
    (provider) => {
      // GIVEN a model and an (empty) image folder on this machine, which has no GPU libraries
      const dir = mkdtempSync(path.join(tmpdir(), 'bench-'));
      const model = path.join(dir, 'model.onnx');
      writeFileSync(model, buildTinyModel({ size: 32, dynamicBatch: true }));
      // WHEN the benchmark is asked for the GPU provider
      const result = runBench(['--providers', provider, '--model', model, '--images', dir]);
      // THEN it stops before the server starts, naming the provider, onnxruntime's reason and what it needs
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(
        new RegExp(
          `^--providers ${provider}: the model cannot run on ${provider} here: .*Failed to load shared library.*never falls back to the CPU$`,
          'm',
        ),
      );
      expect(result.stdout).not.toMatch(/req\/s/);
    },
  );
});
