import { type IConstruct } from 'constructs';
import { Annotations } from '../cdk';

/**
 * Records a policy violation as an error annotation on `node`: `cdktf synth` prints it with the
 * construct path and fails. One format for every check: which rule, what is wrong, how to fix it.
 * @param node the offending construct (its path is printed)
 * @param rule short name of the rule, e.g. `required-labels`
 * @param problem what is wrong, naming the resource
 * @param fix what to change, in stacks.yaml terms where possible
 */
export function reportViolation(node: IConstruct, rule: string, problem: string, fix: string): void {
  Annotations.of(node).addError(`[policy ${rule}] ${problem}. Fix: ${fix}`);
}
