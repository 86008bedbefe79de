import { z } from 'zod';
import { GCS_URI, LABEL_KEY, LABEL_LIMITS, LABEL_RULE, LABEL_VALUE } from '../../rules/gcp-names';

export { BUCKET_NAME, IMAGE_NAME, PROJECT_ID, REGION, REPOSITORY_ID } from '../../rules/gcp-names';

/**
 * A regex-checked string whose error names the bad value and the expected form.
 * @param re the pattern the whole string must match
 * @param what a human description of the expected form, e.g. "a GCP project id"
 */
export function matching(re: RegExp, what: string): z.ZodString {
  // Quoting a bare number only helps when the quoted text is of the form (a version alias `v3` is, `42` as a project is not).
  return text(what, (input) => (re.test(String(input)) ? JSON.stringify(String(input)) : undefined)).regex(re, {
    error: (iss) => `${shown(iss.input)} is not ${what} (${re.source})`,
  });
}

/**
 * A string; a number or `true`/`false` where text is expected (YAML reads `8`, `true`, `30` as
 * such) is refused with what to write: the value in quotes.
 * @param what the expected form, e.g. "a duration such as 30m"
 * @param example what to write instead of a bare value, when quoting it would not be enough
 */
export function text(what = 'a string', example?: (input: unknown) => string | undefined): z.ZodString {
  return z.string({
    error: (iss) => {
      if (typeof iss.input !== 'number' && typeof iss.input !== 'boolean') return undefined;
      const got = `expected ${what}, got the ${typeof iss.input} ${String(iss.input)}`;
      const quoted = example ? example(iss.input) : JSON.stringify(String(iss.input));
      return quoted === undefined ? got : `${got}; write it in quotes: ${quoted}`;
    },
  });
}

/** Longest value echoed back in a message; longer ones are cut, with their length. */
const MAX_SHOWN = 60;

/** A value as messages show it: JSON, cut to {@link MAX_SHOWN} characters. */
export function shown(value: unknown): string {
  const json = JSON.stringify(value) ?? String(value);
  return json.length <= MAX_SHOWN ? json : `${json.slice(0, MAX_SHOWN - 1)}…" (${json.length - 2} characters)`;
}

/** Labels as a map of GCP label key to label value, with Google's rules for both. */
export const labelsSchema = z
  .record(
    z.string().regex(LABEL_KEY, { error: (iss) => `label key ${shown(iss.input)} is not allowed: ${LABEL_RULE}` }),
    text('a label value').regex(LABEL_VALUE, {
      error: (iss) => `label value ${shown(iss.input)} is not allowed: ${LABEL_RULE}`,
    }),
  )
  .superRefine((labels, ctx) => {
    const entries = Object.entries(labels);
    if (entries.length > LABEL_LIMITS.maxLabels) {
      ctx.addIssue({
        code: 'custom',
        message: `${entries.length} labels; a resource takes at most ${LABEL_LIMITS.maxLabels}`,
        input: labels,
      });
    }
    for (const [key, value] of entries) {
      for (const [what, s] of [
        ['key', key],
        ['value', value],
      ] as const) {
        if (Buffer.byteLength(s) > LABEL_LIMITS.maxBytes) {
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: `label ${what} ${shown(s)} is ${Buffer.byteLength(s)} bytes in UTF-8; Google allows under 128`,
            input: s,
          });
        }
      }
    }
  });

/** A `gs://bucket/path` URI. */
export const gcsUri = matching(GCS_URI, 'a gs:// URI');

/** An integer within `[min, max]`; the error names the value and the range. */
export function intBetween(min: number, max: number): z.ZodNumber {
  return z.number().int().min(min).max(max);
}

/** The stacks.yaml keys of a model entry, as the shared rules' messages name them (rules/vertex.ts). */
export const STACKS_YAML_NAMES = {
  minReplicas: 'replicas.min',
  maxReplicas: 'replicas.max',
  scaleToZero: 'scaleToZero',
  access: 'endpoint.access',
  accelerator: 'machine.accelerator',
  spot: 'spot:',
} as const;
