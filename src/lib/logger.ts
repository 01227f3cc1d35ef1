import pino, { type Logger } from 'pino';

export type { Logger };

/** How long a log line may wait in the buffer before it is written out. */
const FLUSH_MS = 250;

export function createLogger(level: string, pretty = false): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: undefined,
    redact: { paths: ['req.headers.cookie', 'req.headers.authorization', 'res.headers["set-cookie"]', '*.password', '*.passwordHash'], censor: '[redacted]' },
  };
  if (pretty) return pino({ ...options, transport: { target: 'pino-pretty', options: { singleLine: true } } });
  if (level === 'silent') return pino(options);
  // Lines are buffered (up to 4 KiB, at most FLUSH_MS) instead of one write() per line: an access-log line per
  // request was a system call per request. pino writes what is left when the process exits (also on a crash).
  // SIGKILL (or the OOM killer) loses what is in the buffer: at most FLUSH_MS or 4 KiB of lines.
  return pino(options, pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: FLUSH_MS }));
}
