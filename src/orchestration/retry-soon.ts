/**
 * Work that cannot be decided yet but will be in a moment (our own create of the deal is still
 * being saved): the job is delayed by `delayMs` without spending an attempt, then runs again.
 */
export class RetrySoon extends Error {
  readonly delayMs: number;

  constructor(message: string, delayMs = 500) {
    super(message);
    this.name = 'RetrySoon';
    this.delayMs = delayMs;
  }
}
