import assert from "node:assert/strict";
import { startTestServer } from "../_server.ts";
import {
  assertError,
  ENCODINGS,
  newParent,
  okData,
  send,
} from "../_toy_fixtures.ts";

/**
 * POST /admin/devices {count}: mints device keys behind the admin token;
 * the admin API is off unless the server was given one.
 */

const ADMIN_TOKEN = "a-long-admin-token-for-tests";

Deno.test("POST /admin/devices mints keys from JSON, a form and multipart", async (t) => {
  await using server = await startTestServer({ adminToken: ADMIN_TOKEN });
  const parent = await newParent(server);
  for (const [i, encoding] of ENCODINGS.entries()) {
    await t.step(encoding, async () => {
      const count = i + 1;
      const reply = await send(server, "/admin/devices", {
        count: encoding === "json" ? count : String(count),
      }, { token: ADMIN_TOKEN, encoding });
      const { keys } = okData(reply);
      assert.equal(keys.length, count);
      assert.equal(new Set(keys).size, count);
      assert.match(reply.body.msg, new RegExp(`minted ${count}`));
      for (const key of keys) {
        assert.match(key, /^[0-9a-f]{32}$/);
        const scan = await send(server, "/scan_qr", { device_key: key }, {
          token: parent.token,
        });
        assert.equal(scan.body.code, 0, "a minted key is a free device");
      }
    });
  }
});

Deno.test("/admin/devices mints up to 1000 at once", async () => {
  await using server = await startTestServer({ adminToken: ADMIN_TOKEN });
  const { keys } = okData(
    await send(server, "/admin/devices", { count: 1000 }, {
      token: ADMIN_TOKEN,
    }),
  );
  assert.equal(new Set(keys).size, 1000);
});

Deno.test("/admin/devices wants the admin token: 401 without or wrong", async () => {
  await using server = await startTestServer({ adminToken: ADMIN_TOKEN });
  const parent = await newParent(server);
  assertError(
    await send(server, "/admin/devices", { count: 1 }),
    401,
    /Bearer <admin token>/,
  );
  for (const token of [ADMIN_TOKEN + "x", ADMIN_TOKEN.slice(1), parent.token]) {
    assertError(
      await send(server, "/admin/devices", { count: 1 }, { token }),
      401,
      /wrong admin token/,
    );
  }
  let devices = 0;
  for await (const _ of server.kv.list({ prefix: ["devices"] })) devices++;
  assert.equal(devices, 0);
});

Deno.test("/admin/devices is off (403) when no admin token is configured", async () => {
  await using server = await startTestServer();
  assertError(
    await send(server, "/admin/devices", { count: 1 }, {
      token: "anything-at-all-really",
    }),
    403,
    /admin API is off: start the server with --admin-token/,
  );
  assertError(await send(server, "/admin/devices", { count: 1 }), 403);
});

Deno.test("unknown /admin paths are guarded too, then 404", async () => {
  await using server = await startTestServer({ adminToken: ADMIN_TOKEN });
  assertError(await send(server, "/admin/users", {}), 401);
  assertError(
    await send(server, "/admin/users", {}, { token: ADMIN_TOKEN }),
    404,
  );
});
