/** The command-line parts `npm run smoke` and `npm run loadtest` share. */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { StacksConfigError } from '../../config/load';
import { type Target, type TokenSource, UsageError, findEnvironmentTarget, tokenSource } from './target';

/** Options naming the target and its credentials, and the images. */
export const TARGET_OPTIONS = {
  url: { type: 'string' },
  address: { type: 'string' },
  token: { type: 'string' },
  'no-auth': { type: 'boolean', default: false },
  image: { type: 'string', multiple: true, default: [] },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies ParseArgsConfig['options'];

/** Where to print: the scripts' `main` takes these so tests can run them in-process. */
export interface Io {
  out(line: string): void;
  err(text: string): void;
  /** Whether stderr is a terminal (a live progress bar) or not (a progress line now and then). */
  readonly tty: boolean;
}

export const processIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (text) => process.stderr.write(text),
  tty: Boolean(process.stderr.isTTY),
};

/** Parses `argv` with the shared options plus `options`; a parse error becomes a {@link UsageError}. */
export function parseCommandLine<O extends ParseArgsConfig['options']>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options: { ...TARGET_OPTIONS, ...options }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** The target and token source of `<environment>` or `--url URL`. */
export async function resolveTarget(
  positionals: string[],
  values: { url?: string; address?: string; token?: string; 'no-auth'?: boolean },
): Promise<{ target: Target; token: TokenSource }> {
  const token = tokenSource({ token: values.token, noAuth: values['no-auth'] });
  if (values.url !== undefined) {
    if (positionals.length > 0) throw new UsageError('give either an environment or --url, not both');
    if (!/^https?:\/\//.test(values.url)) throw new UsageError(`--url must be an http(s) URL, got ${values.url}`);
    return { target: { url: values.url, description: values.url }, token };
  }
  if (positionals.length !== 1) {
    throw new UsageError('give one environment of stacks.yaml (e.g. staging), or --url URL');
  }
  const target = await findEnvironmentTarget(positionals[0], { address: values.address, token });
  return { target, token };
}

/** A whole number of at least `min` from option `name`. */
export function wholeNumber(name: string, value: string | undefined, min = 1): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    throw new UsageError(`--${name} must be a whole number of at least ${min}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/**
 * Runs a script's `main` as a command: its exit code, usage errors (and stacks.yaml mistakes) as one
 * message and exit 2, anything else as one message and exit 1; never a stack trace.
 */
export function runCommand(main: (argv: string[], io: Io) => Promise<number>): void {
  main(process.argv.slice(2), processIo).then(
    (code) => {
      process.exitCode = code;
    },
    (err: Error) => {
      const usage = err instanceof UsageError || err instanceof StacksConfigError;
      process.stderr.write(`${usage ? 'usage: ' : ''}${err.message}\n`);
      process.exitCode = usage ? 2 : 1;
    },
  );
}
