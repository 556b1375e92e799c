import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';

export const BOARD_PATH = '/admin/queues';

/** bull-board for every queue, in the caller's scope (which holds the admin guard). */
export async function queueBoard(scope: FastifyInstance, queues: Queue[]) {
  const serverAdapter = new FastifyAdapter();
  createBullBoard({
    queues: queues.map((queue) => new BullMQAdapter(queue)),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'crm-sync' } },
  });
  serverAdapter.setBasePath(BOARD_PATH);
  await scope.register(serverAdapter.registerPlugin(), { prefix: BOARD_PATH });
}
