/**
 * Structured logging: pino JSON lines on stdout (one object per line, `level` as a word,
 * ISO time), with child loggers that carry a `correlation_id` for everything tied to a
 * message.
 */
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import type { LogLevel } from './config.js';

export type Logger = PinoLogger;

export interface LoggerOptions {
  level: LogLevel;
  /** Where lines go; default stdout, written synchronously so nothing is lost on exit. */
  destination?: DestinationStream;
  /** Extra fields on every line. */
  base?: Record<string, unknown>;
}

/** The root logger of the service. */
export function createLogger(options: LoggerOptions): Logger {
  const destination = options.destination ?? pino.destination({ dest: 1, sync: true });
  return pino(
    {
      level: options.level,
      base: { service: 'cim-domain-nix', pid: process.pid, ...options.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
    },
    destination,
  );
}

/** A child logger whose every line carries `correlation_id` (and any extra bindings). */
export function withCorrelation(logger: Logger, correlationId: string, bindings: Record<string, unknown> = {}): Logger {
  return logger.child({ correlation_id: correlationId, ...bindings });
}

/** A child logger for one component, e.g. `connection` or `embedded-nats`. */
export function forComponent(logger: Logger, component: string): Logger {
  return logger.child({ component });
}
