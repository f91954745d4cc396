/**
 * Structured logs on stderr, one line per event: `text` (time, level,
 * message, then key=value fields) for a person at a terminal, or `json` (one
 * object per line) for a log collector. Secrets never reach a line: every
 * field whose name says it holds one is redacted, at any depth.
 */

/** Log levels in increasing severity. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** How a line is written. */
export type LogFormat = "text" | "json";

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** A logger that writes lines at or above its level. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** Options of `createLogger`. */
export interface LoggerOptions {
  /** `json` or `text` (the default). */
  format?: LogFormat;
  /** Where lines go; stderr by default. */
  sink?: (line: string) => void;
}

/** What a redacted value is replaced with. */
export const REDACTED = "[redacted]";

// Field names that hold credentials: tokens, passwords, device keys, WeChat
// session keys, Authorization headers (any case, `_`/`-` or camelCase).
const SECRET_FIELD =
  /^(.*[_-])?(token|password|passwd|device_?key|session_?key|authorization|secret|api_?key)s?$/i;
// A field holding a bearer credential inside a string, e.g. a logged header.
const BEARER = /\bBearer\s+\S+/gi;
// `token=...` in a logged URL or query string.
const TOKEN_PARAM = /([?&](?:token|device_key|password)=)[^&\s"]*/gi;
// Deep or huge structures are cut, so a log line stays bounded.
const MAX_DEPTH = 6;
const MAX_STRING = 4_000;

/** True when a field of this name holds a secret. */
export function isSecretField(name: string): boolean {
  return SECRET_FIELD.test(name.replace(/([a-z])([A-Z])/g, "$1_$2"));
}

/**
 * A copy of `value` with every secret-named field replaced by `REDACTED`,
 * bearer tokens and `?token=` query values blanked inside strings, and
 * nesting cut at a bounded depth. Never throws (cycles become "[cycle]").
 */
export function redact(
  value: unknown,
  depth = 0,
  seen = new WeakSet<object>(),
): unknown {
  if (typeof value === "string") {
    const cut = value.length > MAX_STRING
      ? `${value.slice(0, MAX_STRING)}…`
      : value;
    return cut.replace(BEARER, `Bearer ${REDACTED}`).replace(
      TOKEN_PARAM,
      `$1${REDACTED}`,
    );
  }
  if (value === null || typeof value !== "object") {
    return typeof value === "bigint" ? String(value) : value;
  }
  if (value instanceof Error) {
    return redact(value.stack ?? value.message, depth, seen);
  }
  if (depth >= MAX_DEPTH) return "[too deep]";
  if (seen.has(value)) return "[cycle]";
  seen.add(value);
  if (Array.isArray(value)) {
    return value.slice(0, 100).map((item) => redact(item, depth + 1, seen));
  }
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = isSecretField(key) ? REDACTED : redact(item, depth + 1, seen);
  }
  return out;
}

/**
 * Creates a logger writing at or above `level`.
 *
 * @example
 * const log = createLogger("info", { format: "json" });
 * log.info("listening", { url }); // {"time":…,"level":"info","msg":"listening","url":…}
 */
export function createLogger(
  level: LogLevel = "info",
  { format = "text", sink = (line) => console.error(line) }: LoggerOptions = {},
): Logger {
  const render = format === "json" ? jsonLine : textLine;
  const write =
    (at: LogLevel) => (msg: string, fields: Record<string, unknown> = {}) => {
      if (RANK[at] < RANK[level]) return;
      const safe = redact(fields) as Record<string, unknown>;
      sink(render(new Date().toISOString(), at, String(redact(msg)), safe));
    };
  return {
    debug: write("debug"),
    info: write("info"),
    warn: write("warn"),
    error: write("error"),
  };
}

function jsonLine(
  time: string,
  level: LogLevel,
  msg: string,
  fields: Record<string, unknown>,
): string {
  return JSON.stringify({ ...fields, time, level, msg });
}

function textLine(
  time: string,
  level: LogLevel,
  msg: string,
  fields: Record<string, unknown>,
): string {
  const parts = Object.entries(fields).map(([key, value]) => {
    const shown = typeof value === "string" ? value : JSON.stringify(value);
    return `${key}=${
      /[\s"=]/.test(shown ?? "") ? JSON.stringify(shown) : shown
    }`;
  });
  return [time, level.toUpperCase().padEnd(5), msg, ...parts].join(" ");
}

/** A logger that drops everything (tests). */
export const silentLogger: Logger = createLogger("error", { sink: () => {} });

/** A logger that adds `fields` (e.g. a request id) to every line of `log`. */
export function withFields(
  log: Logger,
  fields: Record<string, unknown>,
): Logger {
  const add = (at: LogLevel) => (msg: string, more?: Record<string, unknown>) =>
    log[at](msg, { ...fields, ...more });
  return {
    debug: add("debug"),
    info: add("info"),
    warn: add("warn"),
    error: add("error"),
  };
}
