import { AppError } from "../platform/errors.ts";
import { isId, newId } from "../store/ids.ts";

/**
 * Matching: who is paired with whom, and who is waiting for a partner.
 *
 * | key                                       | value                        |
 * | ----------------------------------------- | ---------------------------- |
 * | ["diaryu_waiting", emotion, arrival]      | Waiting (arrival: a newId)   |
 * | ["diaryu_waiting_by_user", openId]        | {emotion, arrival}           |
 * | ["diaryu_pair_of", openId]                | pairId (the current pair)    |
 * | ["diaryu_pairs", pairId]                  | Pair (kept after it ends)    |
 * | ["diaryu_last_partner", openId]           | openId of the last partner   |
 *
 * The rules, applied each time a user writes a diary (`matchOrWait`):
 *
 * 1. A user in a pair stays in it: the reply names the current partner.
 * 2. Otherwise the partner is a waiting user — never the user themself,
 *    never a current partner (a paired user is never waiting), and not the
 *    partner whose pair with this user ended last, so a depair is not
 *    undone by the next diary.
 * 3. Among those, the same emotion first, else the nearest (PREFERENCE);
 *    within one emotion, the earliest arrival: waiting is first come,
 *    first served.
 * 4. Nobody suitable: the user waits with this diary's emotion, keeping
 *    their place in line if they were already waiting.
 *
 * Given the same store the answer is the same: the rules use no clock and
 * no randomness. Each pairing is one atomic op that checks both users are
 * still unpaired and both waiting entries are as read, so under any
 * concurrency a user is in at most one pair; a loser of a race re-reads
 * and tries again. After waiting is written the pool is scanned once more,
 * so two users who arrive at the same moment find each other rather than
 * both waiting.
 *
 * `depair` ends a pair and frees both members (each joins the line again
 * with their next diary).
 */

/** A pair of two users; `endedAt` is set by `depair`. */
export interface Pair {
  pair_id: string;
  members: [string, string];
  createdAt: number;
  endedAt: number | null;
}

/** A user waiting for a partner. */
export interface Waiting {
  openId: string;
  emotion: number;
  /** Position in line: a time-ordered id taken when the user began waiting. */
  arrival: string;
  /** The partner of this user's last pair, whom they are not matched with again. */
  lastPartner: string | null;
}

/** What `matchOrWait` decided. */
export type MatchOutcome =
  | { status: "paired"; pair: Pair; partner: string; fresh: boolean }
  | { status: "waiting"; emotion: number };

/**
 * The eight classes placed on the valence (unpleasant to pleasant) and
 * arousal (calm to excited) plane of Russell's circumplex; the nearest
 * emotion to another is the nearest point.
 */
const CIRCUMPLEX: [valence: number, arousal: number][] = [
  [0.1, -0.4], // 0 静 Peaceful: a calm day, slightly pleasant
  [0.8, 0.5], // 1 乐 Happy
  [0.7, -0.2], // 2 好 Satisfied
  [-0.6, 0.8], // 3 怒 Angry
  [-0.7, -0.5], // 4 哀 Sad
  [-0.5, 0.4], // 5 惧 Worried
  [-0.7, 0.2], // 6 恶 Disgusted
  [0.2, 0.9], // 7 惊 Surprised
];

/**
 * For each emotion, every emotion from nearest to farthest (itself first;
 * equal distances by the lower code).
 */
export const PREFERENCE: readonly (readonly number[])[] = CIRCUMPLEX.map(
  ([v, a]) =>
    CIRCUMPLEX.map(([v2, a2], code) => ({
      code,
      d: Math.hypot(v - v2, a - a2),
    }))
      .sort((x, y) => x.d - y.d || x.code - y.code)
      .map((x) => x.code),
);

// Waiting entries read per emotion while looking for a partner: those
// skipped are only the user and the users whose last partner they were.
const SCAN_PER_EMOTION = 64;
// Attempts before a matching request gives up under heavy contention.
const MAX_ATTEMPTS = 100;

function waitingKey(emotion: number, arrival: string): Deno.KvKey {
  return ["diaryu_waiting", emotion, arrival];
}

function waitingByUserKey(openId: string): Deno.KvKey {
  return ["diaryu_waiting_by_user", openId];
}

/** The key holding a user's current pair id (read by pair_chat.ts in its checks). */
export function pairOfKey(openId: string): Deno.KvKey {
  return ["diaryu_pair_of", openId];
}

/** The key of a pair's record (watched by the pair room: `depair` changes it). */
export function pairKey(pairId: string): Deno.KvKey {
  return ["diaryu_pairs", pairId];
}

function lastPartnerKey(openId: string): Deno.KvKey {
  return ["diaryu_last_partner", openId];
}

/** A pair by id, or null (also for a malformed id). */
export async function getPair(
  kv: Deno.Kv,
  pairId: string,
): Promise<Pair | null> {
  if (!isId(pairId)) return null;
  return (await kv.get<Pair>(pairKey(pairId))).value;
}

/** The user's current pair, or null. */
export async function currentPair(
  kv: Deno.Kv,
  openId: string,
): Promise<Pair | null> {
  const pairId = (await kv.get<string>(pairOfKey(openId))).value;
  return pairId ? await getPair(kv, pairId) : null;
}

/** The other member of `pair`. */
export function partnerIn(pair: Pair, openId: string): string {
  return pair.members[0] === openId ? pair.members[1] : pair.members[0];
}

/** True when `openId` is (or was) a member of `pair`. */
export function isMember(pair: Pair, openId: string): boolean {
  return pair.members[0] === openId || pair.members[1] === openId;
}

/**
 * A pair the caller may read: 404 when there is none, 403 when the caller
 * was never one of its two members.
 */
export async function requireMemberPair(
  kv: Deno.Kv,
  openId: string,
  pairId: string,
): Promise<Pair> {
  const pair = await getPair(kv, pairId);
  if (!pair) throw new AppError(404, `no pair with pair_id "${pairId}"`);
  if (!isMember(pair, openId)) {
    throw new AppError(403, `pair "${pairId}" is not yours`);
  }
  return pair;
}

/** The user's waiting entry, or null. */
export async function waitingOf(
  kv: Deno.Kv,
  openId: string,
): Promise<{ emotion: number; arrival: string } | null> {
  return (await kv.get<{ emotion: number; arrival: string }>(
    waitingByUserKey(openId),
  )).value;
}

/** The first suitable waiting user for `me` (rules 2 and 3), or null. */
async function findPartner(
  kv: Deno.Kv,
  me: string,
  emotion: number,
  lastPartner: string | null,
): Promise<Deno.KvEntry<Waiting> | null> {
  for (const e of PREFERENCE[emotion]) {
    const iter = kv.list<Waiting>({ prefix: ["diaryu_waiting", e] }, {
      limit: SCAN_PER_EMOTION,
    });
    for await (const entry of iter) {
      const w = entry.value;
      if (w.openId === me || w.openId === lastPartner) continue;
      if (w.lastPartner === me) continue;
      return entry;
    }
  }
  return null;
}

/**
 * Pairs `openId` by the rules above, or puts them in line with `emotion`.
 * Safe under concurrent calls for any users: a user ends in at most one
 * pair, and never waits while paired.
 */
export async function matchOrWait(
  kv: Deno.Kv,
  openId: string,
  emotion: number,
  { now = Date.now() }: { now?: number } = {},
): Promise<MatchOutcome> {
  if (!Number.isInteger(emotion) || emotion < 0 || emotion > 7) {
    throw new AppError(400, `emotion must be 0-7, got ${emotion}`);
  }
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (attempt > 0) await backOff(attempt);
    const [pairOf, mine, last] = await kv.getMany<
      [string, { emotion: number; arrival: string }, string]
    >([pairOfKey(openId), waitingByUserKey(openId), lastPartnerKey(openId)]);
    if (pairOf.value) {
      const pair = await getPair(kv, pairOf.value);
      if (!pair) continue;
      return {
        status: "paired",
        pair,
        partner: partnerIn(pair, openId),
        fresh: false,
      };
    }
    const candidate = await findPartner(kv, openId, emotion, last.value);
    if (candidate) {
      const partner = candidate.value.openId;
      const pair: Pair = {
        pair_id: newId(now),
        members: [candidate.value.openId, openId],
        createdAt: now,
        endedAt: null,
      };
      const op = kv.atomic()
        .check(pairOf)
        .check({ key: pairOfKey(partner), versionstamp: null })
        .check(mine)
        .check(candidate)
        .set(pairKey(pair.pair_id), pair)
        .set(pairOfKey(openId), pair.pair_id)
        .set(pairOfKey(partner), pair.pair_id)
        .delete(candidate.key)
        .delete(waitingByUserKey(partner));
      if (mine.value) {
        op.delete(waitingKey(mine.value.emotion, mine.value.arrival))
          .delete(waitingByUserKey(openId));
      }
      if ((await op.commit()).ok) {
        return { status: "paired", pair, partner, fresh: true };
      }
      continue;
    }
    if (mine.value?.emotion === emotion) return { status: "waiting", emotion };
    const waiting: Waiting = {
      openId,
      emotion,
      arrival: mine.value?.arrival ?? newId(now),
      lastPartner: last.value,
    };
    const op = kv.atomic().check(pairOf).check(mine);
    if (mine.value) {
      op.delete(waitingKey(mine.value.emotion, mine.value.arrival));
    }
    // Whether or not this commit wins, the next pass scans the pool again:
    // someone may have joined it at the same moment.
    await op.set(waitingKey(emotion, waiting.arrival), waiting)
      .set(waitingByUserKey(openId), {
        emotion,
        arrival: waiting.arrival,
      })
      .commit();
  }
  throw new AppError(
    503,
    "matching is busy: try again in a moment (your diary is saved)",
    { data: { retry_after: 1 } },
  );
}

/** A short random pause, growing with the attempt, so racers spread out. */
function backOff(attempt: number): Promise<void> {
  const ms = Math.random() * Math.min(50, 2 * attempt);
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Ends the user's current pair and frees both members; returns the pair
 * that ended, or null when the user was in none (idempotent). One atomic
 * op checks the pair and both members' pair entries.
 */
export async function depair(
  kv: Deno.Kv,
  openId: string,
  { now = Date.now() }: { now?: number } = {},
): Promise<Pair | null> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (attempt > 0) await backOff(attempt);
    const pairOf = await kv.get<string>(pairOfKey(openId));
    if (!pairOf.value) return null;
    const pairEntry = await kv.get<Pair>(pairKey(pairOf.value));
    const pair = pairEntry.value;
    const op = kv.atomic().check(pairOf).check(pairEntry)
      .delete(pairOfKey(openId));
    if (!pair) {
      if ((await op.commit()).ok) return null;
      continue;
    }
    const partner = partnerIn(pair, openId);
    const partnerOf = await kv.get<string>(pairOfKey(partner));
    op.check(partnerOf)
      .set(pairKey(pair.pair_id), { ...pair, endedAt: now })
      .set(lastPartnerKey(openId), partner)
      .set(lastPartnerKey(partner), openId);
    if (partnerOf.value === pair.pair_id) op.delete(pairOfKey(partner));
    if ((await op.commit()).ok) return { ...pair, endedAt: now };
  }
  throw new AppError(503, "depair is busy: try again in a moment", {
    data: { retry_after: 1 },
  });
}
