import type pg from 'pg';

/**
 * COPY ... TO STDOUT through a pg client, chunk by chunk, with backpressure: when `write` returns false the
 * socket is paused until `waitDrain` resolves. A few lines instead of a dependency (pg-copy-streams does the
 * same with a Submittable): pg hands every CopyData message of the active query to handleCopyData.
 */
export function copyTo(client: pg.PoolClient | pg.Client, sql: string, write: (chunk: Buffer) => boolean, waitDrain: () => Promise<void>): Promise<number> {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    let failed: Error | undefined;
    type Connection = { query(text: string): void; stream: NodeJS.ReadableStream };
    let connection: Connection;
    const submittable = {
      submit(conn: Connection) {
        connection = conn;
        conn.query(sql);
      },
      handleCopyData(msg: { chunk: Buffer }) {
        // The parser's buffer may be reused for the next message: keep a copy.
        const chunk = Buffer.from(msg.chunk);
        bytes += chunk.length;
        if (!write(chunk)) {
          connection.stream.pause();
          void waitDrain().then(() => connection.stream.resume());
        }
      },
      handleRowDescription() {},
      handleDataRow() {},
      handleCommandComplete() {},
      handleEmptyQuery() {},
      handlePortalSuspended() {},
      handleCopyInResponse() {},
      handleError(err: Error) {
        failed = err;
      },
      handleReadyForQuery() {
        if (failed) reject(failed);
        else resolve(bytes);
      },
    };
    (client as unknown as { query(s: unknown): void }).query(submittable);
  });
}

/** Inlines $n parameters as SQL literals (COPY takes no parameters). */
export function inlineParams(sql: string, params: unknown[], escapeLiteral: (s: string) => string): string {
  return sql.replace(/\$(\d+)/g, (_m, n: string) => {
    const v = params[Number(n) - 1];
    if (v === null || v === undefined) return 'NULL';
    if (typeof v === 'number' || typeof v === 'bigint') return String(v);
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    if (v instanceof Date) return escapeLiteral(v.toISOString());
    return escapeLiteral(typeof v === 'string' ? v : JSON.stringify(v));
  });
}
