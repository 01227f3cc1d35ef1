import type pg from 'pg';
import { copyOut } from '../../src/modules/exports/copy-out.js';

export { inlineParams } from '../../src/modules/exports/copy-out.js';

const WRITE_SIZE = 64 * 1024;

/**
 * COPY ... TO STDOUT through a pg client (the app's copyOut), its rows gathered into writes of about 64 KiB
 * (as the app's CSV export does: a write per row costs more than the row, and a ceiling should not pay it),
 * with backpressure: when `write` returns false the socket is paused until `waitDrain` resolves. Resolves with
 * the bytes copied.
 */
export async function copyTo(client: pg.PoolClient | pg.Client, sql: string, write: (chunk: Buffer) => boolean, waitDrain: () => Promise<void>): Promise<number> {
  let bytes = 0;
  let buf = Buffer.allocUnsafe(WRITE_SIZE);
  let used = 0;
  const flush = () => {
    const chunk = buf.subarray(0, used);
    buf = Buffer.allocUnsafe(WRITE_SIZE);
    used = 0;
    return write(chunk);
  };
  const copy = copyOut(client, sql, (view) => {
    bytes += view.length;
    if (used + view.length > buf.length) {
      if (used && !flush()) {
        copy.pause();
        void waitDrain().then(() => copy.resume());
      }
      if (view.length > buf.length) buf = Buffer.allocUnsafe(view.length);
    }
    // pg's read buffer is reused for the next message: copy it out.
    used += view.copy(buf, used);
  });
  await copy.done;
  if (used) flush();
  return bytes;
}
