/** A real pino logger (our factory) whose JSON lines are kept in memory for assertions. */
import { createLogger, type Logger } from '../../src/logging.js';

export interface CapturedLogger {
  logger: Logger;
  lines: Record<string, unknown>[];
}

export function capturedLogger(level: 'debug' | 'info' = 'debug'): CapturedLogger {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level,
    destination: {
      write(s: string) {
        for (const raw of s.split('\n')) if (raw.trim()) lines.push(JSON.parse(raw) as Record<string, unknown>);
      },
    },
  });
  return { logger, lines };
}
