/** A rollout that stopped; the message says what happened, what was left as it was and why. */
export class RolloutError extends Error {
  /** @param cause the error that stopped it, kept so the exit code can tell a quota refusal */
  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'RolloutError';
  }
}
