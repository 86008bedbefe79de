import pino, { type Logger } from 'pino';

// Cloud Logging reads `severity` and `message` from JSON lines
// (https://cloud.google.com/logging/docs/structured-logging#special-payload-fields).
const SEVERITY: Record<string, string> = {
  trace: 'DEBUG',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARNING',
  error: 'ERROR',
  fatal: 'CRITICAL',
};

/**
 * A pino logger writing one JSON object a line with Cloud Logging's `severity` and `message`.
 * @param destination where lines go; stdout when omitted
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      messageKey: 'message',
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ severity: SEVERITY[label] ?? 'DEFAULT' }) },
    },
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
