import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
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
