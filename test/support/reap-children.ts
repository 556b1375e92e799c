import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHILDREN_FILE_VARIABLE, killNotedChildren } from './children.ts';

/** vitest global setup: the run's children file, and after the run, every child left behind killed. */
export default function setup() {
  const file = join(tmpdir(), `crm-sync-test-children-${process.pid}.jsonl`);
  process.env[CHILDREN_FILE_VARIABLE] = file;
  return () => {
    const killed = killNotedChildren(file);
    if (killed) console.warn(`test run: killed ${killed} child processes a test left running`);
  };
}
