import { readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { closest, distance } from 'fastest-levenshtein';
import { type Document, LineCounter, type YAMLError, isMap, isNode, isScalar, isSeq, parseDocument, visit } from 'yaml';
import { type z } from 'zod';
import {
  ENVIRONMENT_NAME,
  type EnvironmentConfig,
  defaultsSchema,
  environmentSchema,
  stacksFileSchema,
} from './schema/environment';
import { shown } from './schema/common';
import { buildContextProblems, crossEnvironmentProblems, endpointIdentityProblems } from './environments';

/** One mistake in a stacks file. */
export interface ConfigProblem {
  /** YAML path such as `environments.prod.models[1].replicas`; empty for the whole file. */
  readonly path: string;
  /** 1-based line in the file, when the path exists in it. */
  readonly line?: number;
  /** What is wrong, with the bad value and what is allowed. */
  readonly message: string;
}

/** A stacks file that cannot be used; `message` lists every problem, one a line. */
export class StacksConfigError extends Error {
  constructor(
    /** The file, as given (relative paths stay relative so messages are short). */
    readonly file: string,
    /** Every problem found. */
    readonly problems: readonly ConfigProblem[],
  ) {
    super(
      `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n` +
        problems
          .map((p) => `  ${file}${p.line ? `:${p.line}` : ''}: ${p.path ? `${p.path}: ` : ''}${p.message}`)
          .join('\n'),
    );
    this.name = 'StacksConfigError';
  }
}

/** A validated stacks file: one fully-defaulted config per environment, in file order. */
export interface StacksConfig {
  /** The file it was read from. */
  readonly file: string;
  /** Environment name to its merged, validated config. */
  readonly environments: Readonly<Record<string, EnvironmentConfig>>;
  /**
   * The line of a YAML path such as `['environments', 'prod', 'endpoint', 'access']` in the file,
   * or of its deepest part that is written there (a key set only by `defaults:` gives the environment's line).
   */
  readonly lineOf?: (path: readonly (string | number)[]) => number | undefined;
}

/** The stacks file `main.ts` reads: `$STACKS_FILE`, else `stacks.yaml` in the working directory. */
export function stacksFilePath(env: NodeJS.ProcessEnv = process.env): string {
  return env.STACKS_FILE && env.STACKS_FILE.length > 0 ? env.STACKS_FILE : 'stacks.yaml';
}

/** Options of {@link loadStacksConfig} and {@link parseStacksConfig}. */
export interface LoadOptions {
  /**
   * The repository root `image.context` is relative to; when given, each environment's build
   * context folder and Dockerfile must exist under it.
   * @default - not checked ({@link parseStacksConfig}); the working directory ({@link loadStacksConfig})
   */
  readonly root?: string;
}

/**
 * Reads and validates a stacks file: `$STACKS_FILE`, else `stacks.yaml`, unless `file` is given.
 * @throws StacksConfigError naming the file, line, YAML path, bad value and what is allowed, for every problem at once
 */
export function loadStacksConfig(
  file?: string,
  options: LoadOptions & { readonly env?: NodeJS.ProcessEnv } = {},
): StacksConfig {
  const env = options.env ?? process.env;
  const fromEnv = file === undefined && Boolean(env.STACKS_FILE);
  const target = file ?? stacksFilePath(env);
  const resolved = path.resolve(target);
  let text: string;
  try {
    if (statSync(target).isDirectory()) {
      throw new StacksConfigError(target, [
        {
          path: '',
          message: `is a folder, not a file (resolved to ${resolved}); ${fromEnv ? 'point STACKS_FILE at' : 'give'} the YAML file, e.g. ${path.join(target, 'stacks.yaml')}`,
        },
      ]);
    }
    text = readFileSync(target, 'utf8');
  } catch (err) {
    if (err instanceof StacksConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const fix =
      code !== 'ENOENT'
        ? `cannot be read (${code ?? (err as Error).message}, resolved to ${resolved})`
        : fromEnv
          ? `file not found: STACKS_FILE is set to ${JSON.stringify(env.STACKS_FILE)} (resolved to ${resolved}); point it at an existing stacks file, or unset it to use stacks.yaml`
          : `file not found (resolved to ${resolved}); run from the repository root, or set STACKS_FILE to the stacks file to use`;
    throw new StacksConfigError(target, [{ path: '', message: fix }]);
  }
  return parseStacksConfig(text, target, { root: options.root ?? process.cwd() });
}

/**
 * Validates the text of a stacks file.
 * @param text YAML text
 * @param file name used in messages
 * @throws StacksConfigError for every problem at once
 */
export function parseStacksConfig(text: string, file = 'stacks.yaml', options: LoadOptions = {}): StacksConfig {
  const lineCounter = new LineCounter();
  // Duplicate keys are found below, with both lines; the parser's own check would stop at the first.
  const doc = parseDocument(text, { lineCounter, uniqueKeys: false, prettyErrors: true });
  const syntax = syntaxProblem(doc.errors);
  if (syntax) {
    throw new StacksConfigError(file, [syntax]);
  }
  const lineOf = (p: readonly PathKey[]) => lineOfPath(doc, lineCounter, p);
  const problems = new Problems(lineOf);
  for (const d of duplicateKeys(doc, lineCounter)) {
    problems.add(d.path, d.message, d.line);
  }
  const raw: unknown = doc.toJS() ?? {};

  const top = stacksFileSchema.safeParse(raw, { reportInput: true });
  if (!top.success) {
    problems.addZodIssues(top.error.issues, [], stacksFileSchema);
    throw problems.error(file);
  }
  const ownOf = (name: string): unknown => top.data.environments[name];
  const defaults = top.data.defaults ?? {};
  problems.addZodIssues(
    defaultsSchema.safeParse(defaults, { reportInput: true }).error?.issues ?? [],
    ['defaults'],
    defaultsSchema,
  );

  const names = Object.keys(top.data.environments);
  if (names.length === 0) {
    problems.add(['environments'], 'define at least one environment');
  }
  const environments: Record<string, EnvironmentConfig> = {};
  for (const name of names) {
    const own = top.data.environments[name];
    if (!ENVIRONMENT_NAME.test(name)) {
      problems.add(
        ['environments', name],
        `environment name ${JSON.stringify(name)} must be lowercase letters, digits and hyphens, starting with a letter, at most 30 characters (it becomes the stack name)`,
      );
    }
    if (!isPlainObject(own)) {
      problems.add(['environments', name], `expected a mapping of settings, got ${describe(own)}`);
      continue;
    }
    const merged = deepMerge(defaults, own);
    const result = environmentSchema.safeParse(merged, { reportInput: true });
    if (result.success) {
      environments[name] = result.data;
      continue;
    }
    // A problem in a value that only `defaults:` sets is reported once, at its `defaults.` path.
    for (const issue of splitUnknownKeys(result.error.issues)) {
      const at = issue.code === 'unrecognized_keys' ? [...issue.path, ...issue.keys] : issue.path;
      const fromDefaults = !hasPath(own, at) && hasPath(defaults, at);
      problems.addZodIssues([issue], fromDefaults ? ['defaults'] : ['environments', name], environmentSchema);
    }
  }
  for (const p of crossEnvironmentProblems(environments, (name, keys) => hasPath(ownOf(name), keys))) {
    problems.add(['environments', p.environment, ...p.at], p.message);
  }
  for (const p of endpointIdentityProblems(environments)) {
    problems.add(['environments', p.environment, ...p.at], p.message);
  }
  if (options.root !== undefined) {
    for (const [name, env] of Object.entries(environments)) {
      for (const p of buildContextProblems(env.image, options.root)) {
        const at = ['image', p.field];
        problems.add(
          [...(hasPath(ownOf(name), at) || !hasPath(defaults, at) ? ['environments', name] : ['defaults']), ...at],
          p.message,
        );
      }
    }
  }
  if (problems.count > 0) {
    throw problems.error(file);
  }
  return { file, environments, lineOf };
}

/**
 * The first real syntax error, in plain words, or nothing. Later errors are usually knock-on
 * effects of the first (the parser loses track of the indentation), so only the first is shown.
 */
function syntaxProblem(errors: readonly YAMLError[]): ConfigProblem | undefined {
  const first = errors.find((e) => e.code !== 'DUPLICATE_KEY');
  if (!first) return undefined;
  const line = first.linePos?.[0].line;
  const column = first.linePos?.[0].col;
  const plain = first.message
    .split('\n')[0]
    .replace(/ at line \d+, column \d+:?$/, '')
    .replace(/:$/, '');
  const where = column ? ` (column ${column})` : '';
  const lower = plain.replace(/^./, (c) => c.toLowerCase());
  const unclosed = /end with a [\]}]/.test(plain);
  const advice: Record<string, string> = {
    MULTIPLE_DOCS: 'the file holds more than one YAML document; stacks.yaml is one document: remove the `---` line',
    TAB_AS_INDENT: 'a tab is used for indentation; YAML indents with spaces only',
    BAD_INDENT: unclosed
      ? `${lower}: close the [ or { on the line that opens it`
      : `${lower}: indent every key of one mapping to the same column, with spaces`,
    MISSING_CHAR: `${lower}: close each [ or { you open`,
  };
  return {
    path: '',
    line,
    message: `YAML syntax: ${advice[first.code] ?? plain}${where}${errors.length > 1 ? ' (fix this first: the lines after it could not be read reliably)' : ''}`,
  };
}

/** Keys given twice in one mapping: YAML keeps the last, which hides the first. */
function duplicateKeys(doc: Document, lines: LineCounter): { path: PathKey[]; line: number; message: string }[] {
  const found: { path: PathKey[]; line: number; message: string }[] = [];
  visit(doc, {
    Map(_key, map, ancestry) {
      const seen = new Map<string, number>();
      for (const pair of map.items) {
        if (!isScalar(pair.key)) continue;
        const key = String(pair.key.value);
        const line = pair.key.range ? lines.linePos(pair.key.range[0]).line : 0;
        const first = seen.get(key);
        if (first === undefined) {
          seen.set(key, line);
          continue;
        }
        const at = [...pathOf(ancestry), key];
        found.push({
          path: at,
          line,
          message: `duplicate key ${shown(key)} (also at line ${first}; the last one would win): keep one`,
        });
      }
    },
  });
  return found;
}

/** The YAML path of a node from its ancestors, as visit() gives them. */
function pathOf(ancestry: readonly unknown[]): PathKey[] {
  const out: PathKey[] = [];
  for (let i = 0; i < ancestry.length; i++) {
    const node = ancestry[i];
    const child = ancestry[i + 1];
    if (isSeq(node) && child !== undefined) out.push(node.items.indexOf(child as never));
    else if (isMap(node) && child !== undefined) {
      const pair = child as { key?: unknown };
      if (isScalar(pair.key)) out.push(String(pair.key.value));
    }
  }
  return out;
}

type PathKey = string | number;

class Problems {
  private readonly byKey = new Map<string, ConfigProblem>();

  constructor(private readonly lineOf: (p: readonly PathKey[]) => number | undefined) {}

  get count(): number {
    return this.byKey.size;
  }

  /** @param line where it is, when not where the path first appears (a duplicate key) */
  add(p: readonly PathKey[], message: string, line = this.lineOf(p)): void {
    const problem = { path: formatPath(p), line, message };
    this.byKey.set(`${problem.path}\0${message}`, problem);
  }

  addZodIssues(issues: readonly z.core.$ZodIssue[], prefix: readonly PathKey[], root: z.ZodType): void {
    for (const issue of issues) {
      const at = [...prefix, ...(issue.path as PathKey[])];
      if (issue.code === 'unrecognized_keys') {
        const known = Object.keys(objectShapeAt(root, issue.path as PathKey[]) ?? {});
        for (const key of issue.keys) {
          this.add([...at, key], unknownKeyMessage(key, known));
        }
      } else {
        this.add(at, issueMessage(issue));
      }
    }
  }

  error(file: string): StacksConfigError {
    const sorted = [...this.byKey.values()].sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
    return new StacksConfigError(file, sorted);
  }
}

/** One `unrecognized_keys` issue per key, so each key can be traced to where it was written. */
function splitUnknownKeys(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue[] {
  return issues.flatMap((i): z.core.$ZodIssue[] =>
    i.code === 'unrecognized_keys' ? i.keys.map((key) => ({ ...i, keys: [key] })) : [i],
  );
}

function unknownKeyMessage(key: string, known: readonly string[]): string {
  const suggestion = known.length > 0 ? closest(key, [...known]) : undefined;
  const close = suggestion !== undefined && distance(key, suggestion) <= Math.max(2, Math.floor(suggestion.length / 3));
  return `unknown key ${JSON.stringify(key)}${close ? ` (did you mean ${JSON.stringify(suggestion)}?)` : ''}; allowed keys: ${known.join(', ')}`;
}

function issueMessage(issue: z.core.$ZodIssue): string {
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case 'invalid_type':
      // A bare number or true/false where text is expected: the schema's own message says what to write.
      if (issue.expected === 'string' && issue.message.startsWith('expected ')) return issue.message;
      return input === undefined
        ? `is required (${typeName(issue.expected)})`
        : `expected ${typeName(issue.expected)}, got ${describe(input)}${typeof input === 'number' || typeof input === 'boolean' ? (issue.expected === 'string' ? `; write it in quotes: "${String(input)}"` : '') : ''}`;
    case 'too_small':
      if (issue.origin === 'array') return `needs at least ${String(issue.minimum)} item(s), got ${describe(input)}`;
      if (issue.origin === 'string') return `must be at least ${String(issue.minimum)} character(s) long`;
      return `${describe(input)} is below the minimum ${issue.inclusive === false ? '(exclusive) ' : ''}${String(issue.minimum)}`;
    case 'too_big':
      if (issue.origin === 'array') return `allows at most ${String(issue.maximum)} item(s), got ${describe(input)}`;
      if (issue.origin === 'string') return `must be at most ${String(issue.maximum)} character(s) long`;
      return `${describe(input)} is above the maximum ${issue.inclusive === false ? '(exclusive) ' : ''}${String(issue.maximum)}`;
    case 'invalid_value': {
      const allowed = issue.values.map((v) => JSON.stringify(v));
      const strings = issue.values.filter((v): v is string => typeof v === 'string');
      const hint =
        typeof input === 'string' && strings.length > 0
          ? ` (did you mean ${JSON.stringify(closest(input, strings))}?)`
          : '';
      return `${describe(input)} is not allowed${hint}; allowed: ${allowed.join(', ')}`;
    }
    case 'invalid_key':
      // A record key that breaks the key schema: its own message says which rule.
      return issue.issues.map((i) => i.message).join('; ');
    default:
      return issue.message;
  }
}

function typeName(zodType: string): string {
  const names: Record<string, string> = {
    int: 'a whole number',
    object: 'a mapping',
    record: 'a mapping',
    array: 'a list',
    string: 'a string',
    number: 'a number',
    boolean: 'true or false',
  };
  return names[zodType] ?? zodType;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === 'object') return 'a mapping';
  return shown(value);
}

function formatPath(p: readonly PathKey[]): string {
  return p.reduce<string>((acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : acc ? `${acc}.${k}` : k), '');
}

/** The line of the deepest key (or list item) along `p` that exists in the document. */
function lineOfPath(doc: Document, lines: LineCounter, p: readonly PathKey[]): number | undefined {
  let node: unknown = doc.contents;
  let offset = isNode(node) ? node.range?.[0] : undefined;
  for (const key of p) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(key));
      if (!pair) break;
      offset = isNode(pair.key) ? pair.key.range?.[0] : offset;
      node = pair.value;
    } else if (isSeq(node) && typeof key === 'number' && isNode(node.items[key])) {
      node = node.items[key];
      offset = (node as { range?: [number, number, number] }).range?.[0] ?? offset;
    } else {
      break;
    }
  }
  return offset === undefined ? undefined : lines.linePos(offset).line;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Objects merge key by key, everything else (lists included) is replaced by `over`. */
function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isPlainObject(b) && isPlainObject(v) ? deepMerge(b, v) : v;
  }
  return out;
}

function hasPath(value: unknown, p: readonly PropertyKey[]): boolean {
  let cur: unknown = value;
  for (const k of p) {
    if (typeof cur !== 'object' || cur === null || !(k in cur)) return false;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return true;
}

/** The keys an object schema allows at `p`, walking through optional, default, array and record wrappers. */
function objectShapeAt(schema: z.core.$ZodType, p: readonly PropertyKey[]): Record<string, unknown> | undefined {
  const def = schema._zod.def as unknown as Record<string, unknown> & { type: string };
  switch (def.type) {
    case 'optional':
    case 'default':
    case 'prefault':
    case 'nullable':
      return objectShapeAt(def.innerType as z.core.$ZodType, p);
    case 'pipe':
      return objectShapeAt(def.in as z.core.$ZodType, p);
    case 'object': {
      const shape = def.shape as Record<string, z.core.$ZodType>;
      if (p.length === 0) return shape;
      const next = shape[String(p[0])];
      return next ? objectShapeAt(next, p.slice(1)) : undefined;
    }
    case 'array':
      return p.length === 0 ? undefined : objectShapeAt(def.element as z.core.$ZodType, p.slice(1));
    case 'record':
      return p.length === 0 ? undefined : objectShapeAt(def.valueType as z.core.$ZodType, p.slice(1));
    default:
      return undefined;
  }
}
