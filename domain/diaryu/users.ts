import { AppError } from "../platform/errors.ts";
import { randomHex } from "../store/ids.ts";

/**
 * DiaryU users: one per WeChat openId (or per local demo sign-in), with the
 * profile the mini-program stores through `store_action/`.
 *
 * | key                          | value      |
 * | ---------------------------- | ---------- |
 * | ["diaryu_users", openId]     | DiaryUser  |
 *
 * WeChat's `session_key` is never stored: nothing here needs it, and a key
 * that is not kept cannot leak.
 */

/** Where a user came from: a WeChat sign-in, or a `--demo` try-out. */
export type UserSource = "wechat" | "demo";

/** The profile fields of `store_action/` (null: never given). */
export interface Profile {
  nickName: string | null;
  avatarUrl: string | null;
  /** WeChat's gender: 0 unknown (the default), 1 male, 2 female. */
  gender: number;
  province: string | null;
  city: string | null;
  country: string | null;
}

/** A stored DiaryU user. */
export interface DiaryUser extends Profile {
  openId: string;
  source: UserSource;
  createdAt: number;
  updatedAt: number;
}

/** A profile as the seed shows it: every field a string, "None" when unset. */
export interface ProfileReply {
  openId: string;
  nickName: string;
  avatarUrl: string;
  gender: string;
  province: string;
  city: string;
  country: string;
}

/** WeChat openIds: letters, digits, `_` and `-` (28 characters in practice). */
export const OPEN_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** Demo users' openIds start with this; WeChat's never do (they start with "o"). */
const DEMO_PREFIX = "demo_";

const EMPTY_PROFILE: Profile = {
  nickName: null,
  avatarUrl: null,
  gender: 0,
  province: null,
  city: null,
  country: null,
};

function userKey(openId: string): Deno.KvKey {
  return ["diaryu_users", openId];
}

/** A user, or null. */
export async function getUser(
  kv: Deno.Kv,
  openId: string,
): Promise<DiaryUser | null> {
  if (!OPEN_ID.test(openId)) return null;
  return (await kv.get<DiaryUser>(userKey(openId))).value;
}

/** A user; 404 naming the openId when there is none. */
export async function requireUser(
  kv: Deno.Kv,
  openId: string,
): Promise<DiaryUser> {
  const user = await getUser(kv, openId);
  if (!user) throw new AppError(404, `no DiaryU user with openId "${openId}"`);
  return user;
}

/**
 * The user of `openId`, created on first sign-in. Atomic: of concurrent
 * first sign-ins exactly one creates the record, the rest read it.
 */
export async function ensureUser(
  kv: Deno.Kv,
  openId: string,
  { source, now = Date.now() }: { source: UserSource; now?: number },
): Promise<DiaryUser> {
  if (!OPEN_ID.test(openId)) {
    throw new AppError(400, `openId must be 1-64 letters, digits, _ or -`);
  }
  for (;;) {
    const entry = await kv.get<DiaryUser>(userKey(openId));
    if (entry.value) return entry.value;
    const user: DiaryUser = {
      openId,
      source,
      ...EMPTY_PROFILE,
      createdAt: now,
      updatedAt: now,
    };
    const res = await kv.atomic().check(entry).set(userKey(openId), user)
      .commit();
    if (res.ok) return user;
  }
}

/** A fresh local user for a `--demo` try-out; its openId is never a WeChat one. */
export function createDemoUser(kv: Deno.Kv): Promise<DiaryUser> {
  return ensureUser(kv, `${DEMO_PREFIX}${randomHex(12)}`, { source: "demo" });
}

/**
 * Stores the given profile fields of an existing user (fields left out
 * keep their value). Checked against the record read, retried on a race.
 */
export async function storeProfile(
  kv: Deno.Kv,
  openId: string,
  profile: Partial<Profile>,
  { now = Date.now() }: { now?: number } = {},
): Promise<DiaryUser> {
  for (;;) {
    const entry = await kv.get<DiaryUser>(userKey(openId));
    if (!entry.value) {
      throw new AppError(404, `no DiaryU user with openId "${openId}"`);
    }
    const given = Object.fromEntries(
      Object.entries(profile).filter(([, v]) => v !== undefined),
    );
    const user = { ...entry.value, ...given, updatedAt: now };
    const res = await kv.atomic().check(entry).set(userKey(openId), user)
      .commit();
    if (res.ok) return user;
  }
}

/** The seed's user block; unset fields read "None" as the seed's Django shows them. */
export function profileReply(user: DiaryUser): ProfileReply {
  const shown = (v: string | number | null) => v === null ? "None" : String(v);
  return {
    openId: user.openId,
    nickName: shown(user.nickName),
    avatarUrl: shown(user.avatarUrl),
    gender: shown(user.gender),
    province: shown(user.province),
    city: shown(user.city),
    country: shown(user.country),
  };
}
