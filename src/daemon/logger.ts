/** blitd's log: JSON lines on stdout (pino), written synchronously so nothing is lost at exit. */
import { pino } from 'pino';
import type { LogLevel } from './config.js';

export type Logger = pino.Logger;

export function createLogger(level: LogLevel): Logger {
  return pino(
    { name: 'blitd', level, base: { pid: process.pid } },
    pino.destination({ dest: 1, sync: true }),
  );
}
