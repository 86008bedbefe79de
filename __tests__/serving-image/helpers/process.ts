import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { REPO_ROOT } from '../../helpers/paths';
import { mainScript } from './build';

/** `node serving-image/dist/main.js` running from the repository root, its stdout lines parsed. */
export interface ServerProcess {
  readonly child: ChildProcess;
  /** JSON log lines so far. */
  readonly logs: Record<string, unknown>[];
  /** Every line written to stdout or stderr, as written (JSON or not). */
  readonly lines: { stream: 'stdout' | 'stderr'; text: string }[];
  /** Resolves with the base URL once it listens. */
  readonly url: Promise<string>;
  /** Resolves with the exit code, or `signal <name>` when a signal killed it (e.g. SIGABRT). */
  readonly exited: Promise<number | string | null>;
}

/** Starts the server with `env` (plus PATH) on a free loopback port. */
export function spawnServer(env: Record<string, string>): ServerProcess {
  const child = spawn(process.execPath, [mainScript], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH,
      HOST: '127.0.0.1',
      AIP_HTTP_PORT: '0',
      EXECUTION_PROVIDERS: 'cpu',
      INTRA_OP_THREADS: '1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  let resolveUrl: (u: string) => void;
  const url = new Promise<string>((r) => (resolveUrl = r));
  const lines: { stream: 'stdout' | 'stderr'; text: string }[] = [];
  let buffered = '';
  let bufferedErr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    bufferedErr += chunk.toString('utf8');
    const parts = bufferedErr.split('\n');
    bufferedErr = parts.pop()!;
    for (const text of parts) lines.push({ stream: 'stderr', text });
  });
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    for (const line of parts) {
      lines.push({ stream: 'stdout', text: line });
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue; // kept in `lines`: a test of the log format sees it
      }
      logs.push(entry);
      const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(String(entry.message));
      if (m) resolveUrl(m[1]);
    }
  });
  const exited = new Promise<number | string | null>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? (signal ? `signal ${signal}` : null))),
  );
  return { child, logs, lines, url, exited };
}

/** Polls `url` until it answers 200 (or `timeoutMs` passes); returns the statuses seen. */
export async function waitForOk(url: string, timeoutMs = 10_000): Promise<number[]> {
  const statuses: number[] = [];
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const status = await fetch(url).then(
      (r) => r.status,
      () => 0,
    );
    statuses.push(status);
    if (status === 200) return statuses;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms: ${statuses.join(',')}`);
}

/** A loopback port free right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
