import assert from "node:assert/strict";
import { resolveAppSession } from "../../../domain/smart_toy/accounts.ts";
import { AppError } from "../../../domain/platform/errors.ts";
import {
  cancelQrLogin,
  confirmQrLogin,
  createQrLogin,
  discardQrLogin,
  getQrLogin,
  isQrLoginKey,
  type QrLogin,
  qrLoginKey,
  redeemQrLogin,
  scanQrLogin,
} from "../../../domain/qr_login/qr_logins.ts";
import { withKv } from "../../_kv.ts";

/**
 * The QR login state machine over KV: pending → scanned(user) →
 * confirmed | cancelled, each change one checked atomic, a key used once.
 */

const ALICE = "0000000000000000000000a1";
const BOB = "0000000000000000000000b0";

async function rejectsWith(
  promise: Promise<unknown>,
  status: number,
): Promise<void> {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof AppError, String(err));
    assert.equal(err.status, status, err.message);
    return true;
  });
}

Deno.test("createQrLogin stores a pending 128-bit key with its expiry", () =>
  withKv(async (kv) => {
    const before = Date.now();
    const { key, login } = await createQrLogin(kv, { ttlMs: 5_000 });
    assert.ok(isQrLoginKey(key), key);
    assert.equal(login.state, "pending");
    assert.equal(login.userId, null);
    assert.ok(login.expiresAt >= before + 5_000);
    assert.deepEqual(await getQrLogin(kv, key), login);
    const other = await createQrLogin(kv);
    assert.notEqual(other.key, key);
    assert.ok(other.login.expiresAt - other.login.createdAt === 120_000);
  }));

Deno.test("the full path: scan, confirm, redeem once for the scanner", () =>
  withKv(async (kv) => {
    const { key } = await createQrLogin(kv);
    const scanned = await scanQrLogin(kv, { key, userId: ALICE });
    assert.equal(scanned.state, "scanned");
    assert.equal(scanned.userId, ALICE);
    // Scanning again by the same user is a no-op.
    assert.deepEqual(await scanQrLogin(kv, { key, userId: ALICE }), scanned);

    const confirmed = await confirmQrLogin(kv, { key, userId: ALICE });
    assert.equal(confirmed.state, "confirmed");

    const entry = await kv.get<QrLogin>(qrLoginKey(key));
    const token = await redeemQrLogin(kv, entry);
    assert.ok(token);
    assert.deepEqual(await resolveAppSession(kv, token), {
      kind: "user",
      id: ALICE,
    });
    assert.equal(await redeemQrLogin(kv, entry), null, "redeemed twice");
    assert.equal(await getQrLogin(kv, key), null, "record not deleted");
  }));

Deno.test("a used key is 404 for scan, confirm and cancel", () =>
  withKv(async (kv) => {
    const { key } = await createQrLogin(kv);
    await scanQrLogin(kv, { key, userId: ALICE });
    await confirmQrLogin(kv, { key, userId: ALICE });
    await rejectsWith(confirmQrLogin(kv, { key, userId: ALICE }), 404);
    await rejectsWith(scanQrLogin(kv, { key, userId: BOB }), 404);
    await rejectsWith(cancelQrLogin(kv, { key, userId: ALICE }), 404);
  }));

Deno.test("confirm before a scan is 409", () =>
  withKv(async (kv) => {
    const { key } = await createQrLogin(kv);
    await rejectsWith(confirmQrLogin(kv, { key, userId: ALICE }), 409);
    assert.equal((await getQrLogin(kv, key))?.state, "pending");
  }));

Deno.test("only the user who scanned may confirm or cancel", () =>
  withKv(async (kv) => {
    const { key } = await createQrLogin(kv);
    await scanQrLogin(kv, { key, userId: ALICE });
    await rejectsWith(scanQrLogin(kv, { key, userId: BOB }), 409);
    await rejectsWith(confirmQrLogin(kv, { key, userId: BOB }), 409);
    await rejectsWith(cancelQrLogin(kv, { key, userId: BOB }), 409);
    const login = await getQrLogin(kv, key);
    assert.equal(login?.state, "scanned");
    assert.equal(login?.userId, ALICE);
  }));

Deno.test("cancel ends a pending or scanned key; nothing redeems it", () =>
  withKv(async (kv) => {
    const pending = await createQrLogin(kv);
    assert.equal(
      (await cancelQrLogin(kv, { key: pending.key, userId: BOB })).state,
      "cancelled",
    );
    await rejectsWith(
      scanQrLogin(kv, { key: pending.key, userId: ALICE }),
      404,
    );

    const { key } = await createQrLogin(kv);
    await scanQrLogin(kv, { key, userId: ALICE });
    await cancelQrLogin(kv, { key, userId: ALICE });
    await rejectsWith(confirmQrLogin(kv, { key, userId: ALICE }), 404);
    assert.equal(await redeemQrLogin(kv, await kv.get(qrLoginKey(key))), null);
  }));

Deno.test("an expired key is 404 even before expireIn removes it", () =>
  withKv(async (kv) => {
    const { key } = await createQrLogin(kv, {
      ttlMs: 60_000,
      now: Date.now() - 61_000,
    });
    assert.notEqual((await kv.get(qrLoginKey(key))).value, null);
    assert.equal(await getQrLogin(kv, key), null);
    await rejectsWith(scanQrLogin(kv, { key, userId: ALICE }), 404);
  }));

Deno.test("a discarded key cannot be confirmed and mints no session", () =>
  withKv(async (kv) => {
    const { key } = await createQrLogin(kv);
    await scanQrLogin(kv, { key, userId: ALICE });
    await discardQrLogin(kv, key);
    await rejectsWith(confirmQrLogin(kv, { key, userId: ALICE }), 404);
    assert.equal(await redeemQrLogin(kv, await kv.get(qrLoginKey(key))), null);
    const sessions = await Array.fromAsync(
      kv.list({ prefix: ["sessions_by_principal", ALICE] }),
    );
    assert.equal(sessions.length, 0);
  }));

Deno.test("racing changes: one scan and one confirm win", () =>
  withKv(async (kv) => {
    const { key } = await createQrLogin(kv);
    const scans = await Promise.allSettled([
      scanQrLogin(kv, { key, userId: ALICE }),
      scanQrLogin(kv, { key, userId: BOB }),
    ]);
    assert.deepEqual(scans.map((r) => r.status).sort(), [
      "fulfilled",
      "rejected",
    ]);
    const winner = (await getQrLogin(kv, key))!.userId!;
    const confirms = await Promise.allSettled([
      confirmQrLogin(kv, { key, userId: winner }),
      confirmQrLogin(kv, { key, userId: winner }),
      confirmQrLogin(kv, { key, userId: winner }),
    ]);
    assert.equal(confirms.filter((r) => r.status === "fulfilled").length, 1);
    for (const r of confirms) {
      if (r.status === "rejected") {
        assert.equal((r.reason as AppError).status, 404);
      }
    }
  }));

Deno.test("malformed keys are never looked up", () =>
  withKv(async (kv) => {
    assert.equal(isQrLoginKey("ABC"), false);
    assert.equal(isQrLoginKey("g".repeat(32)), false);
    assert.equal(await getQrLogin(kv, "nope"), null);
  }));
