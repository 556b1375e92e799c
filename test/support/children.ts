import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, rmSync } from 'node:fs';

/**
 * Where test processes note the children they start (set by test/support/reap-children.ts, the
 * run's global setup), so the run can kill them when it ends: vitest ends its worker processes with
 * a signal, so nothing in the worker itself runs then.
 */
export const CHILDREN_FILE_VARIABLE = 'CRM_SYNC_TEST_CHILDREN';

/** When the process started (clock ticks since boot): with the pid, names one process even after an exec. */
const startOf = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19];
  } catch {
    return undefined;
  }
};

/**
 * `spawn`, with the child noted so that it is killed when the test run ends, whatever became of
 * the test that started it: a test that timed out before its afterEach left `crm-sync work`
 * children running for good, working the shared Redis and loading the machine for later files.
 */
export const spawnReaped = ((...args: Parameters<typeof spawn>) => {
  const child: ChildProcess = spawn(...args);
  const file = process.env[CHILDREN_FILE_VARIABLE];
  const started = child.pid === undefined ? undefined : startOf(child.pid);
  if (file && child.pid !== undefined && started !== undefined) appendFileSync(file, `${JSON.stringify({ pid: child.pid, started })}\n`);
  return child;
}) as typeof spawn;

/** Kills every noted child still running (the same process: a pid may be reused). */
export function killNotedChildren(file: string): number {
  if (!existsSync(file)) return 0;
  let killed = 0;
  for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
    const { pid, started } = JSON.parse(line) as { pid: number; started: string };
    if (startOf(pid) !== started) continue;
    try {
      process.kill(pid, 'SIGKILL');
      killed++;
    } catch {
      // gone meanwhile
    }
  }
  rmSync(file, { force: true });
  return killed;
}
