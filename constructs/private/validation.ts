import { Token } from '../cdk';

/**
 * Collects every problem in a construct's props so they are reported together, each naming
 * the prop, the bad value and what is allowed. Values that are unresolved tokens are skipped:
 * they are only known at apply time.
 */
export class PropsValidator {
  private readonly problems: string[] = [];

  /** @param owner the construct class name, used in the error message */
  constructor(private readonly owner: string) {}

  /**
   * Records a problem unless `ok` holds or `value` is an unresolved token.
   * @param prop the prop's name, e.g. `replicas.min`
   * @param value the value given
   * @param allowed what would be accepted, e.g. `an integer from 1 to 100`
   */
  check(ok: boolean, prop: string, value: unknown, allowed: string): this {
    if (!ok && !isToken(value)) {
      this.problems.push(`${prop}: ${format(value)} is not allowed; expected ${allowed}`);
    }
    return this;
  }

  /** An integer between `min` and `max`, inclusive; `undefined` passes. */
  integer(prop: string, value: number | undefined, min: number, max: number): this {
    return this.check(
      value === undefined || (Number.isInteger(value) && value >= min && value <= max),
      prop,
      value,
      `an integer from ${min} to ${max}`,
    );
  }

  /** A string matching `re`; `undefined` passes. */
  matches(prop: string, value: string | undefined, re: RegExp, what: string): this {
    return this.check(value === undefined || re.test(value), prop, value, `${what} (${re.source})`);
  }

  /** Records a problem that does not fit the checks above. */
  fail(prop: string, message: string): this {
    this.problems.push(`${prop}: ${message}`);
    return this;
  }

  /** Throws one error listing every problem, if there is any. */
  throwIfInvalid(path: string): void {
    if (this.problems.length > 0) {
      throw new Error(`${this.owner} ${path}: invalid props:\n  ${this.problems.join('\n  ')}`);
    }
  }
}

function isToken(value: unknown): boolean {
  return (typeof value === 'string' || typeof value === 'number') && Token.isUnresolved(value);
}

function format(value: unknown): string {
  return value === undefined ? 'nothing' : JSON.stringify(value);
}
