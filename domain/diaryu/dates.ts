/**
 * Dates as the seed's replies show them: `2018-04-24` for a diary,
 * `2018-04-29 12:46:41` for a chat line, on the clock of the mini-program's
 * users (China Standard Time, as the seed's Django server kept it), not
 * the server's, so a diary written at 7 am in Beijing is dated that day
 * wherever Babble runs.
 */

const TIME_ZONE = "Asia/Shanghai";

const parts = new Intl.DateTimeFormat("en-CA", {
  timeZone: TIME_ZONE,
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
});

function fields(ms: number): Record<string, string> {
  return Object.fromEntries(
    parts.formatToParts(ms).map((p) => [p.type, p.value]),
  );
}

/** `YYYY-MM-DD` in China Standard Time. */
export function dateOf(ms: number): string {
  const f = fields(ms);
  return `${f.year}-${f.month}-${f.day}`;
}

/** `YYYY-MM-DD HH:MM:SS` in China Standard Time. */
export function dateTimeOf(ms: number): string {
  const f = fields(ms);
  return `${f.year}-${f.month}-${f.day} ${f.hour}:${f.minute}:${f.second}`;
}
