import type pg from 'pg';
import { copyOut } from '../../src/modules/exports/copy-out.js';

export { inlineParams } from '../../src/modules/exports/copy-out.js';

/**
 * COPY ... TO STDOUT through a pg client (the app's copyOut), each row handed to `write` as it comes, with
 * backpressure: when `write` returns false the socket is paused until `waitDrain` resolves. Resolves with the
 * bytes copied.
 */
export async function copyTo(client: pg.PoolClient | pg.Client, sql: string, write: (chunk: Buffer) => boolean, waitDrain: () => Promise<void>): Promise<number> {
  let bytes = 0;
  const copy = copyOut(client, sql, (view) => {
    // pg's read buffer is reused for the next message: keep a copy.
    const chunk = Buffer.from(view);
    bytes += chunk.length;
    if (!write(chunk)) {
      copy.pause();
      void waitDrain().then(() => copy.resume());
    }
  });
  await copy.done;
  return bytes;
}
