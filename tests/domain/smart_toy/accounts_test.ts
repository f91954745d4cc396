import assert from "node:assert/strict";
import {
  authenticateUser,
  createAppSession,
  getUser,
  logout,
  logoutEverywhere,
  publicUser,
  registerUser,
  requireUser,
  resolveAppSession,
} from "../../../domain/smart_toy/accounts.ts";
import { AppError } from "../../../domain/platform/errors.ts";
import { sha256Hex } from "../../../domain/platform/sessions.ts";
import {
  hashPassword,
  verifyPassword,
} from "../../../domain/platform/passwords.ts";
import { withKv } from "../../_kv.ts";

/**
 * Accounts and sessions: users with scrypt-hashed passwords, unique
 * usernames, 256-bit tokens stored only as their SHA-256, expiry, logout.
 */

async function rejectsWith(
  promise: Promise<unknown>,
  status: number,
  pattern?: RegExp,
): Promise<void> {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof AppError, String(err));
    assert.equal(err.status, status, err.message);
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

Deno.test("registerUser stores the user with a scrypt hash, never the password", () =>
  withKv(async (kv) => {
    const user = await registerUser(kv, {
      username: "dragon",
      password: "fire-breath",
      nickname: "DragonFire",
      gender: "2",
    });
    assert.match(user._id, /^[0-9a-f]{24}$/);
    assert.equal(user.avatar, "baba.jpg");
    assert.match(
      user.password_hash,
      /^scrypt\$16384\$8\$1\$[0-9a-f]{32}\$[0-9a-f]{64}$/,
    );
    const stored = await getUser(kv, user._id);
    assert.deepEqual(stored, user);
    for await (const entry of kv.list({ prefix: [] })) {
      assert.ok(!JSON.stringify(entry.value).includes("fire-breath"));
    }
    assert.equal(
      (await kv.get(["users_by_name", "dragon"])).value,
      user._id,
    );
  }));

Deno.test("publicUser drops the password hash", () =>
  withKv(async (kv) => {
    const user = await registerUser(kv, {
      username: "u1",
      password: "pw-123456",
    });
    const shown = publicUser(user);
    assert.ok(!("password_hash" in shown));
    assert.equal(shown.username, "u1");
  }));

Deno.test("a username is taken once: 409, also when racing", () =>
  withKv(async (kv) => {
    await registerUser(kv, { username: "taken", password: "pw-123456" });
    await rejectsWith(
      registerUser(kv, { username: "taken", password: "other-pw" }),
      409,
      /"taken" is already taken/,
    );
    const results = await Promise.allSettled(
      Array.from(
        { length: 10 },
        () => registerUser(kv, { username: "race", password: "pw-123456" }),
      ),
    );
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
    let users = 0;
    for await (const _ of kv.list({ prefix: ["users"] })) users++;
    assert.equal(users, 2);
  }));

Deno.test("authenticateUser: one 401 message for a wrong name or password", () =>
  withKv(async (kv) => {
    const user = await registerUser(kv, {
      username: "alice",
      password: "correct horse",
    });
    assert.equal(
      (await authenticateUser(kv, "alice", "correct horse"))._id,
      user._id,
    );
    await rejectsWith(
      authenticateUser(kv, "alice", "wrong horse"),
      401,
      /^wrong username or password$/,
    );
    await rejectsWith(
      authenticateUser(kv, "bob", "correct horse"),
      401,
      /^wrong username or password$/,
    );
  }));

Deno.test("requireUser: 404 naming the id", () =>
  withKv(async (kv) => {
    await rejectsWith(
      requireUser(kv, "0123456789abcdef01234567"),
      404,
      /0123456789abcdef01234567/,
    );
  }));

Deno.test("sessions: 64-hex token, stored only as its hash, resolves to its principal", () =>
  withKv(async (kv) => {
    const token = await createAppSession(kv, { kind: "user", id: "u-1" });
    assert.match(token, /^[0-9a-f]{64}$/);
    assert.deepEqual(await resolveAppSession(kv, token), {
      kind: "user",
      id: "u-1",
    });
    const hash = sha256Hex(token);
    assert.ok((await kv.get(["sessions", hash])).value);
    for await (const entry of kv.list({ prefix: [] })) {
      assert.ok(!JSON.stringify(entry.key).includes(token));
      assert.ok(!JSON.stringify(entry.value).includes(token));
    }
  }));

Deno.test("resolveAppSession: null for unknown, malformed and expired tokens", () =>
  withKv(async (kv) => {
    assert.equal(await resolveAppSession(kv, "0".repeat(64)), null);
    assert.equal(await resolveAppSession(kv, "short"), null);
    assert.equal(await resolveAppSession(kv, ""), null);
    const token = await createAppSession(kv, { kind: "toy", id: "t-1" }, {
      ttlMs: 1,
    });
    await new Promise((resolve) => setTimeout(resolve, 5));
    // expireIn deletes lazily; the stored expiresAt is what counts.
    assert.equal(await resolveAppSession(kv, token), null);
    assert.equal(await resolveAppSession(kv, token.toUpperCase()), null);
  }));

Deno.test("logout logs one token out; idempotent", () =>
  withKv(async (kv) => {
    const a = await createAppSession(kv, { kind: "user", id: "u-1" });
    const b = await createAppSession(kv, { kind: "user", id: "u-1" });
    await logout(kv, a);
    await logout(kv, a);
    assert.equal(await resolveAppSession(kv, a), null);
    assert.deepEqual(await resolveAppSession(kv, b), {
      kind: "user",
      id: "u-1",
    });
  }));

Deno.test("logoutEverywhere logs every token of one principal out", () =>
  withKv(async (kv) => {
    const mine = await Promise.all(
      Array.from(
        { length: 3 },
        () => createAppSession(kv, { kind: "toy", id: "t-1" }),
      ),
    );
    const other = await createAppSession(kv, { kind: "toy", id: "t-2" });
    await logoutEverywhere(kv, "t-1");
    for (const token of mine) {
      assert.equal(await resolveAppSession(kv, token), null);
    }
    assert.ok(await resolveAppSession(kv, other));
    let left = 0;
    for await (
      const _ of kv.list({ prefix: ["sessions_by_principal", "t-1"] })
    ) {
      left++;
    }
    assert.equal(left, 0);
  }));

Deno.test("passwords: salted, verified in constant time, NFC-normalised", async () => {
  const a = await hashPassword("pässword");
  const b = await hashPassword("pässword");
  assert.notEqual(a, b, "each hash has its own salt");
  assert.ok(await verifyPassword("pässword", a));
  assert.ok(await verifyPassword("pa\u0308ssword", a), "NFD input matches");
  assert.ok(!(await verifyPassword("password", a)));
  assert.ok(!(await verifyPassword("pässword", "md5$abc")));
});
