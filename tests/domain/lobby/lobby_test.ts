import assert from "node:assert/strict";
import { AppError } from "../../../domain/platform/errors.ts";
import { sha256Hex } from "../../../domain/platform/sessions.ts";
import {
  appendLobbyChat,
  authenticateLobbyUser,
  avatarUrl,
  claimPresence,
  DEFAULT_AVATAR,
  getLobbyUser,
  issueLobbyToken,
  isValidAvatar,
  isValidUsername,
  listLobbyEvents,
  livePresence,
  lobbyHead,
  parseChat,
  parseLogin,
  parseRegistration,
  refreshPresence,
  registerLobbyUser,
  releasePresence,
  takeLoginAttempt,
  useLobbyToken,
} from "../../../domain/lobby/lobby.ts";
import { RateLimiter } from "../../../domain/platform/rate_limit.ts";

/** The lobby's model: rules, users, tokens, presence and the event log. */

Deno.test("usernames: 2-20 letters, digits and _!@#$%^&+-~?, no leading digit", () => {
  for (
    const ok of [
      "ab",
      "a".repeat(20),
      "_!@#$%^&+-~?",
      "!a",
      "?1",
      "~x",
      "Zz9",
      "a1",
    ]
  ) {
    assert.equal(isValidUsername(ok), true, ok);
  }
  for (
    const bad of [
      "a",
      "a".repeat(21),
      "",
      "1ab",
      "9_",
      "a b",
      "a.b",
      "a/b",
      "a\\b",
      "ä1",
      "ab\n",
      "a*b",
      "a=b",
      "a'b",
    ]
  ) {
    assert.equal(isValidUsername(bad), false, JSON.stringify(bad));
  }
  assert.equal(isValidUsername(12), false);
  assert.equal(isValidUsername(null), false);
});

Deno.test("avatars: a file name ending in .png or .jpg", () => {
  for (const ok of ["me.png", "me.jpg", ".png", "my photo.jpg", "a.b.png"]) {
    assert.equal(isValidAvatar(ok), true, ok);
  }
  for (
    const bad of [
      "me.gif",
      "me.PNG",
      "png",
      "me.png.exe",
      "a/b.png",
      "..\\x.jpg",
      "x\n.png",
    ]
  ) {
    assert.equal(isValidAvatar(bad), false, bad);
  }
  assert.equal(
    avatarUrl({ username: "ann", avatar: DEFAULT_AVATAR }),
    "/avatar/ann/default_avatar.png",
  );
  assert.equal(
    avatarUrl({ username: "a?b#", avatar: "x y.png" }),
    "/avatar/a%3Fb%23/x%20y.png",
  );
});

Deno.test("parseRegistration: seed order of checks, default avatar", () => {
  assert.deepEqual(parseRegistration({ username: "ann", password: "pw" }), {
    ok: true,
    value: { username: "ann", password: "pw", avatar: DEFAULT_AVATAR },
  });
  for (const avatar of ["", null, undefined]) {
    const parsed = parseRegistration({
      username: "ann",
      password: "pw",
      avatar,
    });
    assert.equal(parsed.ok && parsed.value.avatar, DEFAULT_AVATAR);
  }
  const both = parseRegistration({
    username: "1",
    password: 5,
    avatar: "x.gif",
  });
  assert.equal(!both.ok && both.field, "username");
  const avatar = parseRegistration({ username: "ann", avatar: "x.gif" });
  assert.equal(!avatar.ok && avatar.field, "avatar");
  const password = parseRegistration({ username: "ann" });
  assert.deepEqual(password, {
    ok: false,
    field: "password",
    message: '"password" is required',
  });
  const typed = parseRegistration({ username: "ann", password: ["x"] });
  assert.equal(!typed.ok && typed.message, '"password" must be a string');
  const notObject = parseRegistration("ann");
  assert.equal(!notObject.ok && notObject.field, "body");
});

Deno.test("parseLogin and parseChat name the bad field", () => {
  assert.deepEqual(parseLogin({ username: "ann" }), {
    ok: false,
    field: "password",
    message: '"password" is required',
  });
  assert.equal(parseLogin({ username: "ann", password: "" }).ok, true);
  assert.deepEqual(parseChat({}), {
    ok: false,
    field: "message",
    message: '"message" is required',
  });
  const long = parseChat({ message: "x".repeat(4097) });
  assert.equal(
    !long.ok && long.message,
    '"message" must be at most 4096 characters',
  );
  assert.deepEqual(parseChat({ message: "hi", token: "t" }), {
    ok: true,
    value: { message: "hi" },
  });
});

Deno.test("registerLobbyUser stores a scrypt hash; authenticate checks it", async () => {
  using kv = await Deno.openKv(":memory:");
  const user = await registerLobbyUser(kv, {
    username: "ann",
    password: "s3cret",
    avatar: "ann.png",
  });
  assert.equal(user.avatar, "ann.png");
  assert.match(user.password_hash, /^scrypt\$/);
  assert.ok(!JSON.stringify(await getLobbyUser(kv, "ann")).includes("s3cret"));
  assert.equal(
    (await authenticateLobbyUser(kv, { username: "ann", password: "s3cret" }))
      ?.username,
    "ann",
  );
  assert.equal(
    await authenticateLobbyUser(kv, { username: "ann", password: "wrong" }),
    null,
  );
  assert.equal(
    await authenticateLobbyUser(kv, { username: "nobody", password: "s3cret" }),
    null,
  );
  assert.equal(
    await authenticateLobbyUser(kv, {
      username: "1bad name",
      password: "s3cret",
    }),
    null,
  );
  // Lobby users are their own collection.
  assert.equal((await kv.get(["users_by_name", "ann"])).value, null);
});

Deno.test("registerLobbyUser: a name is taken once, even concurrently", async () => {
  using kv = await Deno.openKv(":memory:");
  const input = { username: "bob", password: "pw", avatar: DEFAULT_AVATAR };
  const results = await Promise.allSettled(
    Array.from({ length: 5 }, () => registerLobbyUser(kv, input)),
  );
  assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
  for (const r of results) {
    if (r.status === "rejected") {
      assert.ok(r.reason instanceof AppError);
      assert.equal(r.reason.status, 409);
      assert.equal(r.reason.message, "Username already exists");
    }
  }
  await assert.rejects(
    registerLobbyUser(kv, { ...input, username: "1x" }),
    (err: AppError) => err.status === 400,
  );
});

Deno.test("tokens: stored hashed, expire, and slide on use", async () => {
  using kv = await Deno.openKv(":memory:");
  const t0 = Date.now();
  const token = await issueLobbyToken(kv, "ann", { ttlMs: 1000, now: t0 });
  assert.match(token, /^[0-9a-f]{64}$/);
  const stored = await kv.get(["sessions", sha256Hex(token)]);
  assert.deepEqual(stored.value, {
    principal: { kind: "lobby", id: "ann" },
    createdAt: t0,
    expiresAt: t0 + 1000,
    slideMs: 1000,
  });
  for await (const entry of kv.list({ prefix: [] })) {
    assert.ok(!JSON.stringify(entry.key).includes(token));
  }
  assert.equal(await useLobbyToken(kv, "nope", { now: t0 }), null);
  assert.equal(await useLobbyToken(kv, "0".repeat(64), { now: t0 }), null);
  // Used at +600 ms: refreshed to +1600, so still live at +1200.
  assert.equal(
    await useLobbyToken(kv, token, { now: t0 + 600 }),
    "ann",
  );
  assert.equal(
    await useLobbyToken(kv, token, { now: t0 + 1200 }),
    "ann",
  );
  // Not used for a whole TTL: expired, even before KV deletes it.
  assert.equal(
    await useLobbyToken(kv, token, { now: t0 + 2300 }),
    null,
  );
});

Deno.test("presence: one live holder; stale ones and dead ones give way", async () => {
  using kv = await Deno.openKv(":memory:");
  const a = { instance: "i1", connection: "c1", ttlMs: 60_000 };
  const stamp = await claimPresence(kv, "ann", a);
  assert.ok(stamp);
  assert.equal((await livePresence(kv, "ann"))?.connection, "c1");
  assert.equal(
    await claimPresence(kv, "ann", { ...a, connection: "c2" }),
    null,
  );
  const asked: string[] = [];
  const taken = await claimPresence(kv, "ann", {
    ...a,
    connection: "c2",
    canReplace: (holder) => {
      asked.push(holder.connection);
      return true;
    },
  });
  assert.ok(taken);
  assert.deepEqual(asked, ["c1"]);
  // The old holder lost it: its refresh and release do nothing.
  assert.equal(
    await refreshPresence(kv, "ann", { versionstamp: stamp, ttlMs: 1000 }),
    null,
  );
  assert.equal(
    await releasePresence(kv, "ann", { versionstamp: stamp }),
    false,
  );
  const refreshed = await refreshPresence(kv, "ann", {
    versionstamp: taken,
    ttlMs: 1000,
  });
  assert.ok(refreshed);
  assert.equal(
    await releasePresence(kv, "ann", { versionstamp: refreshed }),
    true,
  );
  assert.equal(await livePresence(kv, "ann"), null);

  const short = await claimPresence(kv, "bob", { ...a, ttlMs: 30 });
  assert.ok(short);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(
    await livePresence(kv, "bob"),
    null,
    "stale presence is not live",
  );
  assert.ok(await claimPresence(kv, "bob", { ...a, connection: "c9" }));
});

Deno.test("event log: dense seqs in commit order, read after a cursor", async () => {
  using kv = await Deno.openKv(":memory:");
  assert.equal(await lobbyHead(kv), 0);
  const first = await appendLobbyChat(kv, {
    user: "ann",
    message: "one",
    avatar: "/a",
  });
  assert.equal(first.seq, 1);
  const events = await Promise.all(
    Array.from(
      { length: 10 },
      (_, i) =>
        appendLobbyChat(kv, { user: "bob", message: `m${i}`, avatar: "/b" }),
    ),
  );
  assert.deepEqual(events.map((e) => e.seq).sort((x, y) => x - y), [
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
  ]);
  assert.equal(await lobbyHead(kv), 11);
  const after = await listLobbyEvents(kv, 8);
  assert.deepEqual(after.map((e) => e.seq), [9, 10, 11]);
  assert.deepEqual(
    (await listLobbyEvents(kv, 0, { limit: 2 })).map((e) => e.message),
    ["one", events.find((e) => e.seq === 2)!.message],
  );
  assert.deepEqual(await listLobbyEvents(kv, 11), []);
});

Deno.test("takeLoginAttempt limits per username and per address", () => {
  const limiter = new RateLimiter();
  for (let i = 0; i < 10; i++) {
    takeLoginAttempt(limiter, { address: "a", username: "ann" });
  }
  assert.throws(
    () => takeLoginAttempt(limiter, { address: "b", username: "ann" }),
    (err: AppError) =>
      err.status === 429 && /too many login attempts/.test(err.message),
  );
  for (let i = 0; i < 30; i++) {
    takeLoginAttempt(limiter, { address: "c", username: `u${i}` });
  }
  assert.throws(
    () => takeLoginAttempt(limiter, { address: "c", username: "zed" }),
    (err: AppError) => err.status === 429,
  );
});
