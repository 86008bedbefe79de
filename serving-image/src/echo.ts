/**
 * How a caller's value is quoted back in an error message or a log line: never whole. A 5 MB
 * string, or an array nested thousands of levels deep (JSON.stringify would overflow the stack),
 * is shown as a short preview.
 */

/** Longest preview of a caller's value, in characters (before the "…" marker). */
export const MAX_ECHO_CHARS = 64;
/** Deepest nesting shown; deeper arrays and objects are shown as `[…]` / `{…}`. */
const MAX_ECHO_DEPTH = 3;

/** A JSON-like preview of `value`, at most about {@link MAX_ECHO_CHARS} characters. */
export function preview(value: unknown, maxChars = MAX_ECHO_CHARS): string {
  const text = render(value, MAX_ECHO_DEPTH, maxChars + 1);
  return text.length > maxChars ? `${text.slice(0, maxChars)}…` : text;
}

/** `text` cut to `maxChars`, saying how long it was. */
export function truncate(text: string, maxChars = MAX_ECHO_CHARS): string {
  return text.length > maxChars ? `${text.slice(0, maxChars)}… (${text.length} characters)` : text;
}

/** Renders at most `budget` characters (the caller cuts), never deeper than `depth`. */
function render(value: unknown, depth: number, budget: number): string {
  if (typeof value === 'string') return JSON.stringify(value.slice(0, budget));
  if (value === null || typeof value !== 'object') return String(JSON.stringify(value) ?? value);
  const isArray = Array.isArray(value);
  if (depth === 0) return isArray ? '[…]' : '{…}';
  const parts: string[] = [];
  let used = 2;
  const entries = isArray ? (value as unknown[]) : Object.keys(value);
  for (const item of entries) {
    if (used >= budget) {
      parts.push('…');
      break;
    }
    const part = isArray
      ? render(item, depth - 1, budget - used)
      : `${JSON.stringify((item as string).slice(0, budget - used))}:${render((value as Record<string, unknown>)[item as string], depth - 1, budget - used)}`;
    parts.push(part);
    used += part.length + 1;
  }
  return isArray ? `[${parts.join(',')}]` : `{${parts.join(',')}}`;
}
