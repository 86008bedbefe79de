import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../helpers/paths';

const SCRIPT = path.join(REPO_ROOT, 'constructs', 'private', 'push-image.sh');

/**
 * Runs push-image.sh with a stand-in `docker` on PATH that records each call (one line per
 * call, arguments separated by `|`) and says whether the registry has the tag.
 */
function runScript(env: Record<string, string>, registryHasTag = false) {
  const bin = mkdtempSync(path.join(tmpdir(), 'docker-stub-'));
  const log = path.join(bin, 'calls.log');
  writeFileSync(
    path.join(bin, 'docker'),
    `#!/bin/sh
stdin=""; [ "$1" = login ] && stdin=$(cat)
(IFS='|'; echo "$*|stdin=$stdin") >> "${log}"
[ "$1" = manifest ] && exit ${registryHasTag ? 0 : 1}
exit 0
`,
  );
  chmodSync(path.join(bin, 'docker'), 0o755);
  const result = spawnSync('sh', [SCRIPT], {
    env: {
      PATH: `${bin}:${process.env.PATH}`,
      IMAGE: 'us-central1-docker.pkg.dev/p/serving/server:ctx-0123',
      CONTEXT: '../../../serving-image',
      DOCKERFILE: 'Dockerfile',
      PLATFORM: 'linux/amd64',
      REGISTRY: 'us-central1-docker.pkg.dev',
      ...env,
    },
    encoding: 'utf8',
  });
  const calls = result.status === null ? [] : safeRead(log).split('\n').filter(Boolean);
  return { result, calls };
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

describe('push-image.sh', () => {
  test('logs in with GOOGLE_OAUTH_ACCESS_TOKEN on stdin, builds for the platform with the build args, and pushes', () => {
    // WHEN
    const { result, calls } = runScript({ GOOGLE_OAUTH_ACCESS_TOKEN: 'tok', BUILD_ARGS: 'A=1\nB=two words' });
    // THEN
    expect(result.status).toBe(0);
    expect(calls).toEqual([
      'login|--username|oauth2accesstoken|--password-stdin|https://us-central1-docker.pkg.dev|stdin=tok',
      'manifest|inspect|us-central1-docker.pkg.dev/p/serving/server:ctx-0123|stdin=',
      'build|--platform|linux/amd64|--file|../../../serving-image/Dockerfile|--tag|us-central1-docker.pkg.dev/p/serving/server:ctx-0123|--build-arg|A=1|--build-arg|B=two words|../../../serving-image|stdin=',
      'push|us-central1-docker.pkg.dev/p/serving/server:ctx-0123|stdin=',
    ]);
  });

  test('does nothing more when the registry already has the tag (same content hash, same image)', () => {
    const { result, calls } = runScript({}, true);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('is already in the registry; not rebuilding');
    expect(calls).toEqual(['manifest|inspect|us-central1-docker.pkg.dev/p/serving/server:ctx-0123|stdin=']);
  });

  test("without Google credentials it says so and uses Docker's own, without --build-arg when there are none", () => {
    // GIVEN no token and Application Default Credentials that point at nothing
    const { result, calls } = runScript({ GOOGLE_APPLICATION_CREDENTIALS: '/nonexistent/adc.json' });
    // THEN it does not log in, and says why and what it does instead
    expect(result.status).toBe(0);
    expect(result.stderr).toMatch(/^push-image: no Application Default Credentials \(.+\)$/m);
    expect(result.stdout).toContain(
      "push-image: using the Docker CLI's own credentials for us-central1-docker.pkg.dev",
    );
    expect(calls.some((c) => c.startsWith('login'))).toBe(false);
    expect(calls.some((c) => c.includes('--build-arg'))).toBe(false);
  });

  test('a missing variable is a clear error', () => {
    const { result } = runScript({ IMAGE: '' });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/IMAGE is required/);
  });
});
