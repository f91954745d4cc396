import assert from "node:assert/strict";
import {
  ensureAdminToken,
  resetAdminToken,
} from "../../domain/platform/admin_token.ts";
import { readBlob } from "../../domain/store/blobs.ts";
import { startTestServer } from "../_server.ts";
import {
  assertError,
  ENCODINGS,
  jsonOf,
  newFamily,
  newParent,
  ok,
  type Reply,
  send,
} from "../_family.ts";

/**
 * The admin API behind the admin token: the configured --admin-token, else
 * the one made on first start (only its hash stored). Mint and list device
 * keys, add content, check a token; replies in the smart-toy envelope.
 */

const ADMIN_TOKEN = "a-long-admin-token-for-tests";
const STATIC = new URL("../../static/", import.meta.url);
const FIXTURES = new URL("../fixtures/", import.meta.url);

/** GETs `path` with a bearer token and parses the envelope. */
async function get(
  server: { url: string },
  path: string,
  token?: string,
): Promise<Reply> {
  const res = await fetch(server.url + path, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  return { status: res.status, body: await jsonOf(res), headers: res.headers };
}

/** Every value in the store, as text, to search for a secret. */
async function storeText(kv: Deno.Kv): Promise<string> {
  const parts: string[] = [];
  for await (const entry of kv.list({ prefix: [] })) {
    const value = entry.value instanceof Uint8Array
      ? new TextDecoder().decode(entry.value)
      : JSON.stringify(
        entry.value,
        (_, v) => typeof v === "bigint" ? String(v) : v,
      );
    parts.push(JSON.stringify(entry.key), value ?? "");
  }
  return parts.join("\n");
}

Deno.test("first start: one admin token, made once, stored only as a hash; it works", async () => {
  await using server = await startTestServer();
  const token = await ensureAdminToken(server.kv);
  assert.ok(token);
  assert.match(token, /^[0-9a-f]{64}$/);
  assert.equal(await ensureAdminToken(server.kv), null, "made only once");
  assert.ok(!(await storeText(server.kv)).includes(token), "no clear token");
  const check = ok(await get(server, "/admin/check", token));
  assert.deepEqual(check, { ok: true });
  ok(await send(server, "/admin/devices", { count: 1 }, { token }));
});

Deno.test("instances starting together on one store make one admin token", async () => {
  await using server = await startTestServer();
  const made = await Promise.all(
    Array.from({ length: 5 }, () => ensureAdminToken(server.kv)),
  );
  assert.equal(made.filter((t) => t !== null).length, 1);
});

Deno.test("a reset token replaces the old one at once", async () => {
  await using server = await startTestServer();
  const first = (await ensureAdminToken(server.kv))!;
  const second = await resetAdminToken(server.kv);
  assertError(await get(server, "/admin/check", first), 401, /wrong admin/);
  ok(await get(server, "/admin/check", second));
});

Deno.test("the admin API wants the token: 401 without, wrong, or another kind", async () => {
  await using server = await startTestServer();
  const token = (await ensureAdminToken(server.kv))!;
  const parent = await newParent(server);
  assertError(
    await send(server, "/admin/devices", { count: 1 }),
    401,
    /Bearer <admin token>/,
  );
  assertError(await get(server, "/admin/check"), 401);
  for (const wrong of [token + "0", token.slice(1), parent.token, "x"]) {
    assertError(
      await send(server, "/admin/devices", { count: 1 }, { token: wrong }),
      401,
      /wrong admin token/,
    );
    assertError(await get(server, "/admin/check", wrong), 401);
    assertError(await get(server, "/admin/devices", wrong), 401);
  }
  let devices = 0;
  for await (const _ of server.kv.list({ prefix: ["devices"] })) devices++;
  assert.equal(devices, 0);
});

Deno.test("guessing admin tokens is slowed down: 429 with Retry-After", async () => {
  await using server = await startTestServer({ adminToken: ADMIN_TOKEN });
  const statuses: number[] = [];
  let last: Reply | null = null;
  for (let i = 0; i < 25; i++) {
    last = await get(server, "/admin/check", `guess-${i}-of-the-token`);
    statuses.push(last.status);
  }
  assert.ok(statuses.slice(0, 20).every((s) => s === 401), String(statuses));
  assertError(last!, 429, /too many wrong admin tokens/);
  assert.ok(Number(last!.headers.get("retry-after")) >= 1);
});

Deno.test("a store without an admin token refuses every token", async () => {
  await using server = await startTestServer();
  assertError(await get(server, "/admin/check", "a".repeat(64)), 401);
});

Deno.test("a configured --admin-token is the admin token; a stored one is then ignored", async () => {
  await using server = await startTestServer({ adminToken: ADMIN_TOKEN });
  const stored = await resetAdminToken(server.kv);
  ok(await get(server, "/admin/check", ADMIN_TOKEN));
  assertError(await get(server, "/admin/check", stored), 401);
});

Deno.test("POST /admin/devices mints keys from JSON, a form and multipart", async (t) => {
  await using server = await startTestServer({ adminToken: ADMIN_TOKEN });
  const parent = await newParent(server);
  for (const [i, encoding] of ENCODINGS.entries()) {
    await t.step(encoding, async () => {
      const count = i + 1;
      const reply = await send(server, "/admin/devices", {
        count: encoding === "json" ? count : String(count),
      }, { token: ADMIN_TOKEN, encoding });
      const { keys } = ok(reply);
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

Deno.test("/admin/devices mints up to 1000 at once; a bad count is 400", async () => {
  await using server = await startTestServer({ adminToken: ADMIN_TOKEN });
  const { keys } = ok(
    await send(server, "/admin/devices", { count: 1000 }, {
      token: ADMIN_TOKEN,
    }),
  );
  assert.equal(new Set(keys).size, 1000);
  for (const count of [0, 1001, "many", 1.5]) {
    assertError(
      await send(server, "/admin/devices", { count }, { token: ADMIN_TOKEN }),
      400,
      /"count"/,
    );
  }
});

Deno.test("GET /admin/devices lists the keys in pages, with their bound state", async () => {
  await using server = await startTestServer({ adminToken: ADMIN_TOKEN });
  const family = await newFamily(server);
  const { keys } = ok(
    await send(server, "/admin/devices", { count: 4 }, { token: ADMIN_TOKEN }),
  );
  const seen: { device_key: string; bound: boolean; toy_id: string | null }[] =
    [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const query: string = `?limit=2${
      cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""
    }`;
    const page = ok(
      await get(server, `/admin/devices${query}`, ADMIN_TOKEN),
    );
    assert.ok(page.devices.length <= 2);
    seen.push(...page.devices);
    cursor = page.cursor;
    pages++;
  } while (cursor && pages < 10);
  assert.equal(pages, 3, "5 devices in pages of 2");
  assert.deepEqual(
    seen.map((d) => d.device_key).sort(),
    [...keys, family.deviceKey].sort(),
  );
  const bound = seen.filter((d) => d.bound);
  assert.deepEqual(bound.map((d) => [d.device_key, d.toy_id]), [
    [family.deviceKey, family.toyId],
  ]);
  for (const d of seen.filter((d) => !d.bound)) assert.equal(d.toy_id, null);

  const all = ok(await get(server, "/admin/devices", ADMIN_TOKEN));
  assert.equal(all.devices.length, 5);
  assert.equal(all.cursor, null);
  assertError(
    await get(server, "/admin/devices?limit=0", ADMIN_TOKEN),
    400,
    /"limit"/,
  );
  assertError(
    await get(server, "/admin/devices?cursor=not!a!cursor", ADMIN_TOKEN),
    400,
    /"cursor"/,
  );
});

/** Multipart fields for POST /admin/content. */
async function contentForm(
  fields: {
    title?: string;
    audio?: Uint8Array | string;
    cover?: Uint8Array | string;
    aliases?: string;
  },
): Promise<FormData> {
  const form = new FormData();
  if (fields.title !== undefined) form.append("title", fields.title);
  if (fields.aliases !== undefined) form.append("aliases", fields.aliases);
  const audio = fields.audio ??
    await Deno.readFile(new URL("content/twinkle_star.mp3", STATIC));
  const cover = fields.cover ??
    await Deno.readFile(new URL("content/twinkle_star.jpg", STATIC));
  form.append("audio", new Blob([audio as BlobPart]), "song.mp3");
  form.append("cover", new Blob([cover as BlobPart]), "cover.jpg");
  return form;
}

async function postContent(
  server: { url: string },
  form: FormData,
  token = ADMIN_TOKEN,
): Promise<Reply> {
  const res = await fetch(`${server.url}/admin/content`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
    body: form,
  });
  return { status: res.status, body: await jsonOf(res), headers: res.headers };
}

Deno.test("POST /admin/content adds an item that /content_list then shows and serves", async () => {
  await using server = await startTestServer({ adminToken: ADMIN_TOKEN });
  const mp3 = await Deno.readFile(new URL("content/twinkle_star.mp3", STATIC));
  const png = await Deno.readFile(new URL("avatar/default_avatar.png", STATIC));
  const added = ok(
    await postContent(
      server,
      await contentForm({
        title: "Lullaby for Lily",
        cover: png,
        aliases: "lily song, 莉莉的歌",
      }),
    ),
  );
  assert.equal(added.outcome, "added");
  assert.match(added.cover, /\.png$/);
  const list = ok(await send(server, "/content_list", {}));
  const item = list.find((i: { title: string }) =>
    i.title === "Lullaby for Lily"
  );
  assert.ok(item, JSON.stringify(list.map((i: { title: string }) => i.title)));
  assert.equal(item._id, added._id);
  assert.deepEqual(item.aliases, ["lily song", "莉莉的歌"]);
  assert.deepEqual(await readBlob(server.kv, item.music), mp3);
  const music = await fetch(`${server.url}/get_music/${item.music}`);
  assert.equal(music.status, 200);
  assert.deepEqual(new Uint8Array(await music.arrayBuffer()), mp3);
  const cover = await fetch(`${server.url}/get_cover/${item.cover}`);
  assert.equal(cover.status, 200);
  assert.deepEqual(new Uint8Array(await cover.arrayBuffer()), png);

  const again = ok(
    await postContent(
      server,
      await contentForm({ title: "Lullaby for Lily", cover: png }),
    ),
  );
  // Same files, aliases not sent: they are kept, nothing changes.
  assert.equal(again.outcome, "unchanged");
  // Aliases sent empty: cleared.
  const cleared = ok(
    await postContent(
      server,
      await contentForm({ title: "Lullaby for Lily", cover: png, aliases: "" }),
    ),
  );
  assert.equal(cleared.outcome, "updated");
  const after = ok(await send(server, "/content_list", {})).find((
    i: { title: string },
  ) => i.title === "Lullaby for Lily");
  assert.equal(after.aliases, undefined);
});

Deno.test("POST /admin/content transcodes WAV to MP3", async () => {
  await using server = await startTestServer({ adminToken: ADMIN_TOKEN });
  const wav = await Deno.readFile(new URL("speech.wav", FIXTURES));
  const added = ok(
    await postContent(
      server,
      await contentForm({ title: "Spoken", audio: wav }),
    ),
  );
  const mp3 = (await readBlob(server.kv, added.music))!;
  assert.ok(mp3.length > 0);
  assert.notDeepEqual(mp3.subarray(0, 4), wav.subarray(0, 4));
  assert.equal(mp3[0], 0xff, "an MPEG frame, no ID3 tag");
});

Deno.test("POST /admin/content refuses what is not audio, not an image, too large, or untitled", async () => {
  await using server = await startTestServer({
    adminToken: ADMIN_TOKEN,
    maxUploadBytes: 200_000,
  });
  assertError(
    await postContent(
      server,
      await contentForm({ title: "Noise", audio: "not audio at all" }),
    ),
    415,
    /"audio"/,
  );
  assertError(
    await postContent(
      server,
      await contentForm({ title: "Blank", cover: "not an image" }),
    ),
    415,
    /"cover" must be a PNG or JPEG/,
  );
  assertError(
    await postContent(
      server,
      await contentForm({ title: "Huge", audio: new Uint8Array(300_000) }),
    ),
    413,
  );
  assertError(
    await postContent(server, await contentForm({})),
    400,
    /"title" is required/,
  );
  const titles = ok(await send(server, "/content_list", {})).map((
    i: { title: string },
  ) => i.title);
  for (const title of ["Noise", "Blank", "Huge"]) {
    assert.ok(!titles.includes(title), title);
  }
  assertError(
    await postContent(server, await contentForm({ title: "x" }), "wrong"),
    401,
  );
});

Deno.test("the admin routes are in /openapi.json; /admin itself is left to the page", async () => {
  await using server = await startTestServer({ adminToken: ADMIN_TOKEN });
  const doc = await (await fetch(`${server.url}/openapi.json`)).json();
  assert.ok(doc.paths["/admin/check"]?.get);
  assert.ok(doc.paths["/admin/devices"]?.get);
  assert.ok(doc.paths["/admin/devices"]?.post);
  assert.ok(doc.paths["/admin/content"]?.post);
  const page = await fetch(`${server.url}/admin`);
  assert.notEqual(page.status, 401);
  await page.body?.cancel();
});

Deno.test("unknown /admin paths are guarded too, then 404", async () => {
  await using server = await startTestServer({ adminToken: ADMIN_TOKEN });
  assertError(await send(server, "/admin/users", {}), 401);
  assertError(
    await send(server, "/admin/users", {}, { token: ADMIN_TOKEN }),
    404,
  );
});
