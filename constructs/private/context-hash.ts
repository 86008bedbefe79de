import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import * as path from 'node:path';
import ignore from '@balena/dockerignore';

/**
 * Directories never hashed: they are rebuilt inside the image (`node_modules`, build output) or
 * are not inputs at all, whatever `.dockerignore` says.
 */
const ALWAYS_IGNORED = new Set(['node_modules', 'dist', '.git', '.cache']);

/**
 * A content hash of a Docker build context: every file Docker would send (honouring
 * `.dockerignore` with Docker's own matching rules), by relative path, executable bit and
 * content. It changes exactly when the image's inputs change, and does not depend on where the
 * directory is or when its files were touched.
 * @param dir the build context directory
 * @returns 64 hex characters
 */
export function hashBuildContext(dir: string): string {
  const dockerignore = path.join(dir, '.dockerignore');
  const rules = ignore().add(safeRead(dockerignore)?.toString('utf8') ?? '');
  const hash = createHash('sha256');
  for (const rel of listFiles(dir, '', rules)) {
    const full = path.join(dir, rel);
    const stat = lstatSync(full);
    const content = stat.isSymbolicLink() ? Buffer.from(`symlink:${readlinkSync(full)}`) : readFileSync(full);
    const executable = (stat.mode & 0o111) !== 0 ? 'x' : '-';
    hash.update(`${rel}\0${executable}\0${createHash('sha256').update(content).digest('hex')}\n`);
  }
  return hash.digest('hex');
}

function listFiles(root: string, rel: string, rules: ReturnType<typeof ignore>): string[] {
  const out: string[] = [];
  const entries = readdirSync(path.join(root, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const entry of entries) {
    const child = rel ? `${rel}/${entry.name}` : entry.name;
    if (ALWAYS_IGNORED.has(entry.name)) continue;
    // The Dockerfile and .dockerignore reach the builder even when excluded.
    const alwaysSent = rel === '' && (entry.name === 'Dockerfile' || entry.name === '.dockerignore');
    if (entry.isDirectory()) {
      // Docker still walks excluded directories for `!` exceptions, so do the same.
      out.push(...listFiles(root, child, rules));
    } else if (alwaysSent || !rules.ignores(child)) {
      out.push(child);
    }
  }
  return out;
}

function safeRead(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}
