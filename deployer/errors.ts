/** A rollout that stopped; the message says what happened, what was left as it was and why. */
export class RolloutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RolloutError';
  }
}
