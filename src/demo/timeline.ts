/** The story as it happens: one line per thing that happened, with the time since the start. */
export class Timeline {
  private readonly started = Date.now();
  private readonly out: NodeJS.WriteStream;

  constructor(out: NodeJS.WriteStream = process.stdout) {
    this.out = out;
  }

  private stamp() {
    return `${((Date.now() - this.started) / 1000).toFixed(1).padStart(6)}s`;
  }

  /** A chapter of the story. */
  chapter(title: string) {
    this.out.write(`\n── ${title}\n`);
  }

  /** Someone did something: the ERP, a person in a CRM, crm-sync. */
  say(actor: string, text: string) {
    this.out.write(`${this.stamp()}  ${actor.padEnd(10)} ${text}\n`);
  }

  /** Polls until `check` answers, then says what happened and how long it took; fails the story after `timeoutMs`. */
  async until<T>(actor: string, what: string, check: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
    const from = Date.now();
    for (;;) {
      const value = await check();
      if (value) {
        this.say(actor, `${what} (${Date.now() - from} ms)`);
        return value;
      }
      if (Date.now() - from > timeoutMs) throw new Error(`the demo waited ${timeoutMs / 1000} s and this never happened: ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
