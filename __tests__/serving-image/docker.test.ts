import { cpSync, mkdtempSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import ignore from '@balena/dockerignore';
import { hashBuildContext } from '../../constructs/private/context-hash';
import { servingDir } from './helpers/build';

// The image cannot be built here (no Docker engine): these check what can be checked.
const dockerfile = readFileSync(path.join(servingDir, 'Dockerfile'), 'utf8');
const rules = ignore().add(readFileSync(path.join(servingDir, '.dockerignore'), 'utf8'));
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .filter((l) => l.trim() && !l.trim().startsWith('#'));

describe('Dockerfile', () => {
  test('every file it copies from the context exists and is not excluded by .dockerignore', () => {
    const sources = instructions
      .filter((l) => /^COPY\s/.test(l) && !/--from=/.test(l))
      .flatMap((l) => l.trim().split(/\s+/).slice(1, -1));
    expect(sources.sort()).toEqual([
      'package-lock.json',
      'package-lock.json',
      'package-lock.json',
      'package.json',
      'package.json',
      'package.json',
      'package.json',
      'src',
      'tsconfig.base.json',
      'tsconfig.json',
    ]);
    for (const src of new Set(sources)) {
      expect(() => statSync(path.join(servingDir, src))).not.toThrow();
      expect(rules.ignores(statSync(path.join(servingDir, src)).isDirectory() ? `${src}/main.ts` : src)).toBe(false);
    }
  });

  test('.dockerignore keeps node_modules, build output, tests and scripts out of the context', () => {
    for (const p of [
      'node_modules/fastify/package.json',
      'dist/main.js',
      '__tests__/x.test.ts',
      'test/app.test.ts',
      'scripts/update-lockfile.sh',
      '.env',
    ]) {
      expect([p, rules.ignores(p)]).toEqual([p, true]);
    }
  });

  test('GPU by default on CUDA 12 + cuDNN 9 with TensorRT 10; CPU by a build argument', () => {
    expect(dockerfile).toMatch(/^ARG VARIANT=gpu$/m);
    expect(dockerfile).toMatch(/^ARG CUDA_IMAGE=nvidia\/cuda:12\.[\d.]+-cudnn-runtime-/m);
    expect(dockerfile).toMatch(/libnvinfer10=/);
    expect(dockerfile).toMatch(/^FROM deps-\$\{VARIANT\} AS deps$/m);
    expect(dockerfile).toMatch(/^FROM base-\$\{VARIANT\}$/m);
    // onnxruntime-node's CUDA 12 providers in the GPU image only, chosen by the variable its install script reads
    expect(instructions).toContain(
      'RUN ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci --omit=dev --no-audit --no-fund && npm cache clean --force',
    );
    expect(instructions).toContain(
      'RUN ONNXRUNTIME_NODE_INSTALL=skip npm ci --omit=dev --no-audit --no-fund && npm cache clean --force',
    );
    expect(instructions.filter((l) => l.includes('--onnxruntime-node-install'))).toEqual([]);
  });

  test("TensorRT is one exact version, the build for the base image's CUDA minor version; Node 22", () => {
    const cuda = /^ARG CUDA_IMAGE=nvidia\/cuda:(12\.\d+)\./m.exec(dockerfile)![1];
    // An apt version such as 10.9.0.34-1+cuda12.8: no wildcard, so every build installs the same one.
    expect(dockerfile).toMatch(
      new RegExp(`^ARG TENSORRT_VERSION=10\\.\\d+\\.\\d+\\.\\d+-1\\+cuda${cuda.replace('.', '\\.')}$`, 'm'),
    );
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:22-/m);
  });

  test('TensorRT engine cache in the directory the server defaults to, owned by the server user; no ORT_TENSORRT_* the server would refuse', () => {
    // GIVEN the image's instructions THEN none sets a variable the server sets itself (config.ts)
    expect(instructions.filter((l) => l.startsWith('ENV') && l.includes('ORT_TENSORRT_'))).toEqual([]);
    expect(instructions.find((l) => l.startsWith('RUN useradd'))).toMatch(
      /install -d -o server -g server \/tmp\/ort-trt/,
    );
  });

  test('both runtime bases install a font for the annotated labels, with a writable fontconfig cache', () => {
    const runs = instructions.filter((l) => l.startsWith('RUN apt-get') && l.includes('fonts-dejavu-core fontconfig'));
    expect(runs).toHaveLength(2);
    expect(instructions.find((l) => l.startsWith('ENV NODE_ENV=production'))).toMatch(/XDG_CACHE_HOME=\/tmp/);
  });

  test('both runtime bases preload jemalloc and bound glibc arenas, so memory freed after a burst is returned', () => {
    // GIVEN the runtime stage's apt installs and environment
    const runs = instructions.filter((l) => l.startsWith('RUN apt-get') && l.includes('libjemalloc2'));
    // THEN both bases install jemalloc at an architecture-independent path, and the image preloads it
    expect(runs).toHaveLength(2);
    for (const run of runs) expect(run).toContain('/usr/local/lib/libjemalloc.so.2');
    expect(instructions.find((l) => l.startsWith('ENV NODE_ENV=production'))).toMatch(
      /LD_PRELOAD=\/usr\/local\/lib\/libjemalloc\.so\.2 MALLOC_ARENA_MAX=2/,
    );
  });

  test('runs node as a non-root user on port 8080', () => {
    const users = instructions.filter((l) => l.startsWith('USER '));
    expect(users).toEqual(['USER 10001']);
    expect(instructions).toContain('EXPOSE 8080');
    expect(instructions[instructions.length - 1]).toBe('CMD ["node", "dist/main.js"]');
  });
});

describe('the image lockfile', () => {
  test('serving-image/package-lock.json locks exactly serving-image/package.json (run scripts/update-lockfile.sh after changing it)', () => {
    const pkg = JSON.parse(readFileSync(path.join(servingDir, 'package.json'), 'utf8'));
    const lock = JSON.parse(readFileSync(path.join(servingDir, 'package-lock.json'), 'utf8'));
    expect(lock.packages[''].dependencies).toEqual(pkg.dependencies);
    expect(lock.packages[''].devDependencies).toEqual(pkg.devDependencies);
    for (const name of Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }))
      expect(lock.packages[`node_modules/${name}`]?.version).toEqual(expect.any(String));
  });
});

describe('the build context hash (what ServingImage tags the image with)', () => {
  test('changes with the sources, not with node_modules, dist or files the Dockerfile does not copy', () => {
    // GIVEN a copy of the context
    const dir = mkdtempSync(path.join(tmpdir(), 'context-'));
    for (const f of ['Dockerfile', '.dockerignore', 'package.json', 'package-lock.json', 'tsconfig.json', 'src'])
      cpSync(path.join(servingDir, f), path.join(dir, f), { recursive: true });
    const before = hashBuildContext(dir);
    // WHEN build output, installed modules and an unrelated file appear THEN the hash holds
    for (const d of ['node_modules/x', 'dist', 'scripts']) mkdirSync(path.join(dir, d), { recursive: true });
    writeFileSync(path.join(dir, 'node_modules/x/index.js'), '1');
    writeFileSync(path.join(dir, 'dist/main.js'), '1');
    writeFileSync(path.join(dir, 'scripts/notes.sh'), '1');
    expect(hashBuildContext(dir)).toBe(before);
    // WHEN a source changes THEN it changes
    writeFileSync(path.join(dir, 'src/main.ts'), `${readFileSync(path.join(dir, 'src/main.ts'), 'utf8')}\n`);
    expect(hashBuildContext(dir)).not.toBe(before);
  });
});
