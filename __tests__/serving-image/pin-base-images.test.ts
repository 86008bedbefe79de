import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { servingDir } from './helpers/build';

const SCRIPT = path.join(servingDir, 'scripts', 'pin-base-images.sh');
const DIGEST = `sha256:${'d'.repeat(64)}`;

/** A copy of the Dockerfile and a `docker` on PATH that answers `buildx imagetools inspect` with `answer`. */
function sandbox(answer: string): { dockerfile: string; env: NodeJS.ProcessEnv } {
  const dir = mkdtempSync(path.join(tmpdir(), 'pin-'));
  const dockerfile = path.join(dir, 'Dockerfile');
  copyFileSync(path.join(servingDir, 'Dockerfile'), dockerfile);
  const docker = path.join(dir, 'docker');
  writeFileSync(docker, `#!/bin/sh\necho "$@" >> "${dir}/calls"\necho '${answer}'\n`);
  chmodSync(docker, 0o755);
  return { dockerfile, env: { ...process.env, PATH: `${dir}:${process.env.PATH}` } };
}

describe('pin-base-images.sh (the base images pinned by digest, run by a release engineer)', () => {
  test('rewrites both base image defaults to tag@digest, keeping the tag', () => {
    // GIVEN the Dockerfile and a registry answering one digest
    const { dockerfile, env } = sandbox(DIGEST);
    // WHEN
    execFileSync('sh', [SCRIPT, dockerfile], { env });
    // THEN
    const pinned = readFileSync(dockerfile, 'utf8');
    expect(pinned).toMatch(new RegExp(`^ARG NODE_IMAGE=node:22-[^@\\s]+@${DIGEST}$`, 'm'));
    expect(pinned).toMatch(new RegExp(`^ARG CUDA_IMAGE=nvidia/cuda:12\\.[^@\\s]+@${DIGEST}$`, 'm'));
  });

  test('a second run resolves the tag again, not the old pin', () => {
    // GIVEN a Dockerfile pinned once
    const { dockerfile, env } = sandbox(DIGEST);
    execFileSync('sh', [SCRIPT, dockerfile], { env });
    // WHEN it runs again
    execFileSync('sh', [SCRIPT, dockerfile], { env });
    // THEN one digest per image, and docker was asked about the tags
    const pinned = readFileSync(dockerfile, 'utf8');
    expect(pinned.match(/^ARG \w+_IMAGE=.*@sha256:/gm)).toHaveLength(2);
    expect(pinned.match(/^ARG \w+_IMAGE=.*@sha256:.*@sha256:/gm)).toBeNull();
    const calls = readFileSync(path.join(path.dirname(dockerfile), 'calls'), 'utf8');
    expect(calls).not.toMatch(/inspect \S+@sha256/);
  });

  test('an answer that is not a digest stops it, changing nothing', () => {
    // GIVEN a registry that answers an error text
    const { dockerfile, env } = sandbox('ERROR: not found');
    const before = readFileSync(dockerfile, 'utf8');
    // WHEN / THEN
    expect(() => execFileSync('sh', [SCRIPT, dockerfile], { env, stdio: 'pipe' })).toThrow(
      /gave no digest: ERROR: not found/,
    );
    expect(readFileSync(dockerfile, 'utf8')).toBe(before);
  });
});
