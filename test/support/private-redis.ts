import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { freePort } from './sync.ts';
import { spawnReaped } from './children.ts';

/**
 * A redis-server of the test's own on a free loopback port, with no persistence: the test can take
 * it away (`stop`, a SIGKILL, as a crash would) and bring it back on the same port (`start`). The
 * shared Redis is never touched.
 */
export async function privateRedis() {
  const port = await freePort();
  let server: ChildProcess | undefined;
  const handle = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      const child = spawnReaped('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
      server = child;
      let output = '';
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          if (output.includes('Ready to accept connections')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`redis-server on ${port} exited (${code}): ${output}`)));
      });
    },
    async stop() {
      const child = server;
      server = undefined;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
  };
  return handle;
}
export type PrivateRedis = Awaited<ReturnType<typeof privateRedis>>;
