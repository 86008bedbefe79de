import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from '../../helpers/paths';

/** The serving image's package. */
export const servingDir = path.join(REPO_ROOT, 'serving-image');
/** The compiled worker: worker_threads run plain JavaScript, not the TypeScript jest transforms. */
export const workerScript = path.join(servingDir, 'dist', 'engine', 'worker.js');
/** The compiled entry point. */
export const mainScript = path.join(servingDir, 'dist', 'main.js');

/**
 * Compiles serving-image/src to dist, as `npm run build:serving` does. `tsc -b` compares the
 * sources with dist's build info first, so an up-to-date build costs well under a second.
 */
export function ensureServingImageBuilt(): void {
  execFileSync(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-b', path.join(servingDir, 'tsconfig.json')],
    { stdio: 'inherit' },
  );
}

/** A file of `../shared`, or undefined (with a message naming the missing path) when absent. */
export function sharedFile(...parts: string[]): string | undefined {
  const file = path.resolve(REPO_ROOT, '..', 'shared', ...parts);
  try {
    statSync(file);
    return file;
  } catch {
    // eslint-disable-next-line no-console
    console.warn(`skipping: ${file} is missing`);
    return undefined;
  }
}
