import { AppError } from "../platform/errors.ts";
import { dateTimeOf } from "./dates.ts";
import { isMember, type Pair, pairKey, pairOfKey } from "./matching.ts";

/**
 * A pair's chat: every line stored durably, numbered 1, 2, 3... per pair.
 *
 * | key                                 | value                         |
 * | ----------------------------------- | ----------------------------- |
 * | ["diaryu_pair_head", pairId]        | number: the last line's seq   |
 * | ["diaryu_pair_lines", pairId, seq]  | Line                          |
 *
 * A line and the head move in one atomic op that also checks the sender
 * is still in this pair, so an acknowledged line is stored and a line
 * never lands in a pair that has ended. The head key is the pair's bell:
 * the room socket of every instance watches it (`roomWatchKeys`) and
 * sends each socket the lines after its position; `watch` may coalesce
 * changes, so readers always ask for everything after their position.
 */

/** Longest line, in characters. */
export const MAX_LINE = 2_000;
/** Most lines one page of history holds. */
export const MAX_PAGE = 500;
// Attempts to take the next seq when the two members write at once.
const MAX_ATTEMPTS = 50;

/** A stored line, in the seed's history shape plus its position. */
export interface Line {
  seq: number;
  openId: string;
  content: string;
  /** `YYYY-MM-DD HH:MM:SS`, China Standard Time. */
  publish_date: string;
  at: number;
}

function headKey(pairId: string): Deno.KvKey {
  return ["diaryu_pair_head", pairId];
}

function lineKey(pairId: string, seq: number): Deno.KvKey {
  return ["diaryu_pair_lines", pairId, seq];
}

/** The keys a room watches: new lines ring the head, `depair` changes the pair. */
export function roomWatchKeys(pairId: string): Deno.KvKey[] {
  return [headKey(pairId), pairKey(pairId)];
}

/**
 * Appends a line from `openId` to pair `pairId`. 404 for an unknown pair,
 * 403 when the sender is not a member, 409 when the pair has ended.
 * Returns the stored line (acknowledged means durable).
 */
export async function appendLine(
  kv: Deno.Kv,
  pairId: string,
  { openId, content, now = Date.now() }: {
    openId: string;
    content: string;
    now?: number;
  },
): Promise<Line> {
  if (content.length === 0 || content.length > MAX_LINE) {
    throw new AppError(400, `a line must be 1-${MAX_LINE} characters`);
  }
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const [pairEntry, pairOf, head] = await kv.getMany<[Pair, string, number]>(
      [pairKey(pairId), pairOfKey(openId), headKey(pairId)],
    );
    const pair = pairEntry.value;
    if (!pair) throw new AppError(404, `no pair with pair_id "${pairId}"`);
    if (!isMember(pair, openId)) {
      throw new AppError(403, `pair "${pairId}" is not yours`);
    }
    if (pair.endedAt !== null || pairOf.value !== pairId) {
      throw new AppError(
        409,
        `pair "${pairId}" has ended: write a diary to be matched again`,
      );
    }
    const line: Line = {
      seq: (head.value ?? 0) + 1,
      openId,
      content,
      publish_date: dateTimeOf(now),
      at: now,
    };
    const res = await kv.atomic()
      .check(pairEntry)
      .check(pairOf)
      .check(head)
      .set(headKey(pairId), line.seq)
      .set(lineKey(pairId, line.seq), line)
      .commit();
    if (res.ok) return line;
  }
  throw new AppError(503, "the chat is busy: send the line again", {
    data: { retry_after: 1 },
  });
}

/** The seq of a pair's last line (0 before the first). */
export async function headOf(kv: Deno.Kv, pairId: string): Promise<number> {
  return (await kv.get<number>(headKey(pairId))).value ?? 0;
}

/** Up to `limit` lines after position `after`, oldest first. */
export async function linesAfter(
  kv: Deno.Kv,
  pairId: string,
  after: number,
  { limit = 100 }: { limit?: number } = {},
): Promise<Line[]> {
  const lines: Line[] = [];
  const prefix = ["diaryu_pair_lines", pairId];
  for await (
    const entry of kv.list<Line>({
      start: [...prefix, after + 1],
      end: [...prefix, Number.MAX_SAFE_INTEGER],
    }, { limit: Math.min(limit, MAX_PAGE) })
  ) lines.push(entry.value);
  return lines;
}

/** A page of history. */
export interface HistoryPage {
  /** Oldest first. */
  messages: Line[];
  /**
   * True when the page was cut at `limit`: older lines exist (page on with
   * `before` = the first seq), or with `after`, newer ones (`after` = the last).
   */
  more: boolean;
}

/**
 * History for a reader: with `after`, the lines after it (oldest first,
 * up to `limit`; `more` says whether newer ones remain); else the `limit`
 * most recent lines before `before` (all when absent).
 */
export async function history(
  kv: Deno.Kv,
  pairId: string,
  { limit = 100, before, after }: {
    limit?: number;
    before?: number;
    after?: number;
  } = {},
): Promise<HistoryPage> {
  const take = Math.min(limit, MAX_PAGE);
  if (after !== undefined) {
    const lines = await linesAfter(kv, pairId, after, { limit: take + 1 });
    return { messages: lines.slice(0, take), more: lines.length > take };
  }
  const prefix = ["diaryu_pair_lines", pairId];
  const lines: Line[] = [];
  for await (
    const entry of kv.list<Line>(
      before === undefined
        ? { prefix }
        : { start: [...prefix, 0], end: [...prefix, before] },
      { reverse: true, limit: take + 1 },
    )
  ) lines.push(entry.value);
  return {
    messages: lines.slice(0, take).reverse(),
    more: lines.length > take,
  };
}
