/**
 * Structured logging with pino, with child loggers that carry a `correlation_id` for
 * everything tied to a message. Two forms of the same lines: JSON (one object per line,
 * `level` as a word, ISO time) for machines, and readable lines through pino's own pretty
 * printer (pino-pretty) for people. `LOG_FORMAT=auto` (the default) picks pretty when
 * stdout is a terminal and JSON otherwise, so a pipe, a file or journald gets JSON.
 */
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import PinoPretty from 'pino-pretty';
import type { LogFormatSetting, LogLevel } from './config.js';

export type Logger = PinoLogger;

/** The form lines are written in. */
export type LogFormat = 'json' | 'pretty';

export interface LoggerOptions {
  level: LogLevel;
  /** `json`, `pretty`, or `auto` (default): pretty when stdout is a terminal. */
  format?: LogFormatSetting;
  /** Where lines go; default stdout, written synchronously so nothing is lost on exit. */
  destination?: DestinationStream;
  /** Extra fields on every line. */
  base?: Record<string, unknown>;
}

/** The format `auto` stands for, given whether stdout is a terminal. */
export function resolveLogFormat(format: LogFormatSetting | undefined, stdoutIsTty: boolean = process.stdout.isTTY === true): LogFormat {
  if (format === 'json' || format === 'pretty') return format;
  return stdoutIsTty ? 'pretty' : 'json';
}

/** Readable lines: `12:00:01.234 INFO  [component] message  key=value …` (colour on a terminal). */
function prettyDestination(destination: DestinationStream | undefined): DestinationStream {
  return PinoPretty({
    destination: destination ?? 1,
    sync: true,
    colorize: destination === undefined && process.stdout.isTTY === true,
    translateTime: 'SYS:HH:MM:ss.l',
    // Same on every line of one process: left out for people.
    ignore: 'pid,hostname,service,component',
    messageFormat: '{if component}[{component}] {end}{msg}',
    singleLine: true,
  });
}

/** The root logger of the service. */
export function createLogger(options: LoggerOptions): Logger {
  const format = resolveLogFormat(options.format);
  const destination =
    format === 'pretty' ? prettyDestination(options.destination) : (options.destination ?? pino.destination({ dest: 1, sync: true }));
  return pino(
    {
      level: options.level,
      base: { service: 'cim-domain-nix', pid: process.pid, ...options.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      // JSON lines name the level by its word; the pretty printer wants pino's numbers.
      ...(format === 'json' ? { formatters: { level: (label: string) => ({ level: label }) } } : {}),
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
