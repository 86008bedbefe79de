import { z } from 'zod';
import { GCS_URI, LABEL_KEY, LABEL_VALUE } from '../../rules/gcp-names';

export { BUCKET_NAME, IMAGE_NAME, PROJECT_ID, REGION, REPOSITORY_ID } from '../../rules/gcp-names';

/**
 * A regex-checked string whose error names the bad value and the expected form.
 * @param re the pattern the whole string must match
 * @param what a human description of the expected form, e.g. "a GCP project id"
 */
export function matching(re: RegExp, what: string): z.ZodString {
  return z.string().regex(re, { error: (iss) => `${JSON.stringify(iss.input)} is not ${what} (${re.source})` });
}

/** Labels as a map of GCP label key to label value. */
export const labelsSchema = z.record(
  matching(LABEL_KEY, 'a valid label key'),
  matching(LABEL_VALUE, 'a valid label value'),
);

/** A `gs://bucket/path` URI. */
export const gcsUri = matching(GCS_URI, 'a gs:// URI');

/** An integer within `[min, max]`; the error names the value and the range. */
export function intBetween(min: number, max: number): z.ZodNumber {
  return z.number().int().min(min).max(max);
}
