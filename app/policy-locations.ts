import { type IConstruct } from 'constructs';
import { type ConfigProblem, type StacksConfig } from '../config/load';

/** Where in an environment of stacks.yaml each policy rule's fix goes. */
const RULE_KEYS: Readonly<Record<string, readonly string[]>> = {
  'public-endpoint': ['endpoint', 'access'],
  'required-labels': ['labels'],
  'endpoint-alerts': ['alerts'],
  'service-account': ['servingAccountId'],
  'image-digest': ['image'],
};

/** The policy violations recorded on `scope`'s constructs (error annotations), if any. */
export function policyViolations(scope: IConstruct): { path: string; message: string }[] {
  return scope.node
    .findAll()
    .flatMap((c) =>
      c.node.metadata
        .filter((m) => m.type === '@cdktf/error' && typeof m.data === 'string' && m.data.startsWith('[policy '))
        .map((m) => ({ path: c.node.path, message: String(m.data) })),
    );
}

/**
 * A policy violation on a construct of an environment's stack, as a stacks.yaml problem: the
 * stack is the environment, the rule says which key the fix goes to (the constructs know nothing
 * of stacks.yaml; this is the one place that maps back).
 */
export function violationAsProblem(config: StacksConfig, v: { path: string; message: string }): ConfigProblem {
  const environment = v.path.split('/')[0];
  const rule = /^\[policy ([^\]]+)\]/.exec(v.message)?.[1] ?? '';
  const at = ['environments', environment, ...(RULE_KEYS[rule] ?? [])];
  return { path: at.join('.'), line: config.lineOf?.(at), message: v.message };
}
