/** Structured logs: one JSON object per line on stderr. */

/** Log levels in increasing severity. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** A logger that writes JSON lines at or above its level. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** Creates a logger; `sink` defaults to stderr. */
export function createLogger(
  level: LogLevel = "info",
  sink: (line: string) => void = (line) => console.error(line),
): Logger {
  const write =
    (at: LogLevel) => (msg: string, fields: Record<string, unknown> = {}) => {
      if (RANK[at] < RANK[level]) return;
      sink(
        JSON.stringify({
          time: new Date().toISOString(),
          level: at,
          msg,
          ...fields,
        }),
      );
    };
  return {
    debug: write("debug"),
    info: write("info"),
    warn: write("warn"),
    error: write("error"),
  };
}

/** A logger that drops everything (tests). */
export const silentLogger: Logger = createLogger("error", () => {});
