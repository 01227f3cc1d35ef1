import type pg from 'pg';
import { copyOut, WriteBatch } from '../../src/modules/exports/copy-out.js';

/**
 * COPY ... TO STDOUT through a pg client (the app's copyOut), its rows gathered into writes of about 64 KiB as
 * the app's CSV export gathers them (a write per row costs more than the row, and a ceiling should not pay it),
 * with backpressure: when `write` returns false the socket is paused until `waitDrain` resolves. Resolves with
 * the bytes copied.
 */
export async function copyTo(client: pg.PoolClient | pg.Client, sql: string, write: (chunk: Buffer) => boolean, waitDrain: () => Promise<void>): Promise<number> {
  let bytes = 0;
  const batch = new WriteBatch();
  const copy = copyOut(client, sql, (message) => {
    bytes += message.length;
    const full = batch.add(message);
    if (full && !write(full)) {
      copy.pause();
      void waitDrain().then(() => copy.resume());
    }
  });
  await copy.done;
  const rest = batch.take();
  if (rest) write(rest);
  return bytes;
}
