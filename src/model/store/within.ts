/**
 * The promise's outcome, or a rejection with `message` once `ms` have passed, whichever comes
 * first: a bound on a wait that cannot itself be cancelled (a DNS lookup, a ping). The timer never
 * outlives the race.
 */
export async function within<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
