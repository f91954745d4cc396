import assert from "node:assert/strict";
import {
  authenticateUser,
  registerUser,
} from "../../domain/smart_toy/accounts.ts";
import { readBlob } from "../../domain/store/blobs.ts";
import { listContent } from "../../domain/smart_toy/content.ts";
import { getDevice } from "../../domain/smart_toy/devices.ts";
import { VERSION } from "../../domain/platform/version.ts";
import { startTestServer } from "../_server.ts";
import { ok, send } from "../_family.ts";

/**
 * The CLI subcommands, run as a self-hoster runs them: `deno run -A main.ts
 * …` in a child process, each against a KV file in a temp folder.
 */

const ROOT = new URL("../../", import.meta.url);
const STATIC = new URL("static/", ROOT);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The test's environment without BABBLE_* variables, plus `extra`. */
function babbleEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env = Object.fromEntries(
    Object.entries(Deno.env.toObject()).filter(([k]) =>
      !k.startsWith("BABBLE_")
    ),
  );
  return { ...env, ...extra, NO_COLOR: "1" };
}

/**
 * Runs `main.ts args…` with no BABBLE_* variables from the test's own
 * environment, plus `extraEnv`.
 */
async function babble(
  args: string[],
  extraEnv: Record<string, string> = {},
): Promise<Run> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", ...args],
    cwd: ROOT,
    env: babbleEnv(extraEnv),
    clearEnv: true,
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "babble-cli-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function namesIn(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

async function withKvFile<T>(
  path: string,
  fn: (kv: Deno.Kv) => Promise<T>,
): Promise<T> {
  const kv = await Deno.openKv(path);
  try {
    return await fn(kv);
  } finally {
    kv.close();
  }
}

Deno.test("devices mint --count 3 --qr-dir prints 3 keys and writes 3 PNGs", () =>
  withTempDir(async (dir) => {
    const kv = `${dir}/data/babble.kv`;
    const run = await babble([
      "devices",
      "mint",
      "--count",
      "3",
      "--qr-dir",
      `${dir}/qr`,
      "--kv",
      kv,
    ]);
    assert.equal(run.code, 0, run.stderr);
    const keys = run.stdout.trim().split("\n");
    assert.equal(keys.length, 3);
    assert.equal(new Set(keys).size, 3);
    for (const key of keys) assert.match(key, /^[0-9a-f]{32}$/);
    const pngs: string[] = [];
    for await (const e of Deno.readDir(`${dir}/qr`)) pngs.push(e.name);
    assert.deepEqual(pngs.sort(), keys.map((k) => `${k}.png`).sort());
    for (const key of keys) {
      const png = await Deno.readFile(`${dir}/qr/${key}.png`);
      assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
    }
    await withKvFile(kv, async (store) => {
      for (const key of keys) {
        assert.equal((await getDevice(store, key))?.value.toy_id, null);
      }
    });
    // A server on the same file knows the minted devices.
    await using server = await startTestServer({ kv });
    const res = await fetch(`${server.url}/get_qr/${keys[0]}.png`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
  }));

Deno.test("devices mint without --qr-dir prints keys only", () =>
  withTempDir(async (dir) => {
    const run = await babble([
      "devices",
      "mint",
      "--count",
      "1",
      "--kv",
      `${dir}/x.kv`,
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^[0-9a-f]{32}\n$/);
  }));

Deno.test("devices mint without --count is a usage error (exit 2) and creates no store", () =>
  withTempDir(async (dir) => {
    const run = await babble(["devices", "mint", "--kv", `${dir}/x.kv`]);
    assert.equal(run.code, 2);
    assert.equal(run.stdout, "");
    assert.match(run.stderr, /^babble: devices mint needs --count N\n/);
    assert.match(
      run.stderr,
      /usage: babble devices mint --count N \[--qr-dir DIR\] \[--kv PATH\]/,
    );
    assert.deepEqual(await namesIn(dir), []);
  }));

async function copyAs(from: string, to: string): Promise<void> {
  await Deno.copyFile(new URL(from, STATIC), to);
}

Deno.test("content import: progress on stderr, items added, re-import unchanged", () =>
  withTempDir(async (dir) => {
    const folder = `${dir}/library`;
    const kv = `${dir}/babble.kv`;
    await Deno.mkdir(folder);
    await copyAs("content/twinkle_star.mp3", `${folder}/bedtime_song.mp3`);
    await copyAs("content/twinkle_star.jpg", `${folder}/bedtime_song.jpg`);
    await copyAs("content/three_little_pigs.mp3", `${folder}/pig-tale.mp3`);

    const first = await babble(["content", "import", folder, "--kv", kv]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /importing \[#+\.*\] 1\/2/);
    assert.match(first.stderr, /importing \[#+\] 2\/2/);
    assert.equal(
      first.stdout.trim(),
      "2 added, 0 updated, 0 unchanged, 0 failed",
    );
    const items = await withKvFile(kv, async (store) => {
      const list = await listContent(store);
      const song = list.find((i) => i.title === "bedtime song")!;
      assert.deepEqual(
        await readBlob(store, song.music),
        await Deno.readFile(`${folder}/bedtime_song.mp3`),
      );
      assert.deepEqual(
        await readBlob(store, song.cover),
        await Deno.readFile(`${folder}/bedtime_song.jpg`),
      );
      return list;
    });
    assert.deepEqual(items.map((i) => i.title).sort(), [
      "bedtime song",
      "pig tale",
    ]);
    assert.equal(items.find((i) => i.title === "pig tale")!.cover, "");

    const again = await babble(["content", "import", folder, "--kv", kv]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(
      again.stdout.trim(),
      "0 added, 0 updated, 2 unchanged, 0 failed",
    );

    await copyAs("content/why_is_the_sky_blue.mp3", `${folder}/pig-tale.mp3`);
    const changed = await babble(["content", "import", folder, "--kv", kv]);
    assert.equal(
      changed.stdout.trim(),
      "0 added, 1 updated, 1 unchanged, 0 failed",
    );
    const after = await withKvFile(kv, listContent);
    assert.equal(after.length, 2);
    assert.deepEqual(
      after.map((i) => i._id).sort(),
      items.map((i) => i._id).sort(),
    );
  }));

Deno.test("content import reads a manifest.json and names a file that is not audio", () =>
  withTempDir(async (dir) => {
    const folder = `${dir}/library`;
    const kv = `${dir}/babble.kv`;
    await Deno.mkdir(folder);
    await copyAs("content/twinkle_star.mp3", `${folder}/a.mp3`);
    await copyAs("content/twinkle_star.jpg", `${folder}/a.jpg`);
    await Deno.writeTextFile(`${folder}/b.mp3`, "this is not audio at all");
    await Deno.writeTextFile(
      `${folder}/manifest.json`,
      JSON.stringify([
        {
          title: "Star Song",
          music: "a.mp3",
          cover: "a.jpg",
          category: "song",
        },
        { title: "Broken", music: "b.mp3" },
      ]),
    );
    const run = await babble(["content", "import", folder, "--kv", kv]);
    assert.equal(run.code, 1);
    assert.equal(
      run.stdout.trim(),
      "1 added, 0 updated, 0 unchanged, 1 failed",
    );
    assert.match(run.stderr, /b\.mp3 is not audio/);
    const items = await withKvFile(kv, listContent);
    assert.deepEqual(items.map((i) => [i.title, i.category]), [
      ["Star Song", "song"],
    ]);
  }));

Deno.test("content import of an empty or missing folder fails clearly", () =>
  withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/empty`);
    const empty = await babble([
      "content",
      "import",
      `${dir}/empty`,
      "--kv",
      `${dir}/x.kv`,
    ]);
    assert.notEqual(empty.code, 0);
    assert.match(empty.stderr, /no audio files or manifest\.json in/);
    const missing = await babble([
      "content",
      "import",
      `${dir}/nowhere`,
      "--kv",
      `${dir}/x.kv`,
    ]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /nowhere/);
  }));

Deno.test("backup then restore into a fresh KV keeps a user and the media", () =>
  withTempDir(async (dir) => {
    const source = `${dir}/source.kv`;
    const target = `${dir}/restored.kv`;
    const userId = await withKvFile(source, async (kv) => {
      const user = await registerUser(kv, {
        username: "keeper",
        password: "backup-pass",
      });
      return user._id;
    });
    // Give the source its built-in media too, as a served store has.
    {
      await using server = await startTestServer({ kv: source });
      ok(await send(server, "/content_list", {}));
    }
    const backup = await babble([
      "backup",
      `${dir}/dump.jsonl`,
      "--kv",
      source,
    ]);
    assert.equal(backup.code, 0, backup.stderr);
    const written = Number(/wrote (\d+) entries/.exec(backup.stdout)?.[1]);
    assert.ok(written > 10, backup.stdout);

    const restore = await babble([
      "restore",
      `${dir}/dump.jsonl`,
      "--kv",
      target,
    ]);
    assert.equal(restore.code, 0, restore.stderr);
    assert.equal(restore.stdout.trim(), `restored ${written} entries`);

    await withKvFile(target, async (kv) => {
      const user = await authenticateUser(kv, "keeper", "backup-pass");
      assert.equal(user._id, userId);
      assert.deepEqual(
        await readBlob(kv, "Success.mp3"),
        await Deno.readFile(new URL("prompts/Success.mp3", STATIC)),
      );
    });
    await using restored = await startTestServer({ kv: target });
    const login = ok(
      await send(restored, "/login", {
        username: "keeper",
        password: "backup-pass",
      }),
    );
    assert.equal(login._id, userId);
  }));

Deno.test("--version and -V print the version", async () => {
  for (const flag of ["--version", "-V"]) {
    const run = await babble([flag]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, `babble ${VERSION}\n`);
  }
});

Deno.test("--help works on every level", async (t) => {
  const cases: [string[], RegExp][] = [
    [["--help"], /usage: babble \[serve\]/],
    [["-h"], /usage: babble \[serve\]/],
    [["help"], /usage: babble \[serve\]/],
    [["--help"], /babble admin reset-token/],
    [["--help"], /babble --version/],
    [["serve", "--help"], /--port\s+BABBLE_PORT/],
    [["devices", "--help"], /usage: babble devices mint --count N/],
    [["devices", "mint", "--help"], /usage: babble devices mint --count N/],
    [["content", "--help"], /usage: babble content import <folder>/],
    [["content", "import", "--help"], /usage: babble content import <folder>/],
    [["backup", "--help"], /usage: babble backup <file\.jsonl>/],
    [["restore", "--help"], /usage: babble restore <file\.jsonl>/],
    [["admin", "--help"], /usage: babble admin reset-token/],
    [["admin", "reset-token", "-h"], /usage: babble admin reset-token/],
  ];
  for (const [args, pattern] of cases) {
    await t.step(args.join(" "), async () => {
      const run = await babble(args);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, pattern);
    });
  }
});

Deno.test("bad command lines exit 2 with a clear message and the usage", async (t) => {
  await withTempDir(async (dir) => {
    const kv = `${dir}/x.kv`;
    const cases: [string[], RegExp][] = [
      [
        ["devices", "mint", "--count", "abc", "--kv", kv],
        /--count must be a whole number from 1 to 10000, got "abc"/,
      ],
      [
        ["devices", "mint", "--count", "0", "--kv", kv],
        /--count must be a whole number from 1 to 10000, got "0"/,
      ],
      [
        ["devices", "mint", "--count", "10001", "--kv", kv],
        /--count must be .* got "10001"/,
      ],
      [
        ["devices", "mint", "--bogus", "1", "--kv", kv],
        /Unknown option '--bogus'/,
      ],
      [["devices", "mint", "--count"], /--count/],
      [["devices", "mint", "--count", "1", "extra"], /extra/],
      [["devices", "frob"], /unknown command "devices frob"/],
      [["admin", "reset-token", "--bogus"], /Unknown option '--bogus'/],
      [["backup", "a.jsonl", "b.jsonl", "--kv", kv], /"b\.jsonl"/],
      [
        ["serve", "--port", "abc", "--kv", kv],
        /^babble: --port \/ BABBLE_PORT must be a port number \(0-65535\), got "abc"\n$/,
      ],
      [
        ["--port", "99999", "--kv", kv],
        /--port \/ BABBLE_PORT must be a port number \(0-65535\), got "99999"/,
      ],
      [["serve", "--log-level", "loud", "--kv", kv], /--log-level/],
      [["serve", "--frobnicate", "--kv", kv], /Unknown option '--frobnicate'/],
      [["frobnicate"], /unknown command "frobnicate"[^]*usage: babble/],
    ];
    for (const [args, pattern] of cases) {
      await t.step(args.join(" "), async () => {
        const run = await babble(args);
        assert.equal(run.code, 2, run.stderr);
        assert.equal(run.stdout, "");
        assert.match(run.stderr, pattern);
      });
    }
    await t.step("a bad BABBLE_* variable is a usage error too", async () => {
      const run = await babble(["backup", `${dir}/b.jsonl`], {
        BABBLE_PORT: "abc",
      });
      assert.equal(run.code, 2);
      assert.match(run.stderr, /--port \/ BABBLE_PORT .*got "abc"/);
    });
    await t.step(
      "a subcommand without its argument prints its usage",
      async () => {
        for (const args of [["devices"], ["content", "import"], ["backup"]]) {
          const run = await babble([...args, "--kv", kv]);
          assert.equal(run.code, 2);
          assert.match(run.stderr, /usage: babble/);
        }
      },
    );
    await t.step("rejected command lines wrote no store", async () => {
      assert.deepEqual(await namesIn(dir), []);
    });
  });
});

Deno.test("a failed restore into a new path leaves no store behind", () =>
  withTempDir(async (dir) => {
    const backup = `${dir}/dump.jsonl`;
    await Deno.writeTextFile(
      backup,
      `${JSON.stringify({ key: ["users", "x"], value: 1 })}\n{not json\n`,
    );
    for (const target of [`${dir}/restored.kv`, `${dir}/new/deep/r.kv`]) {
      const run = await babble(["restore", backup, "--kv", target]);
      assert.equal(run.code, 1, run.stdout);
      assert.match(run.stderr, /dump\.jsonl:2 is not a JSON line/);
      assert.match(run.stderr, /no store was created/);
      assert.deepEqual(await namesIn(dir), ["dump.jsonl"]);
    }
    const missing = await babble([
      "restore",
      `${dir}/missing.jsonl`,
      "--kv",
      `${dir}/r.kv`,
    ]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /missing\.jsonl not found/);
    assert.deepEqual(await namesIn(dir), ["dump.jsonl"]);
  }));

Deno.test("a failed restore into an existing store keeps the store file", () =>
  withTempDir(async (dir) => {
    const kv = `${dir}/live.kv`;
    await withKvFile(kv, (store) => store.set(["keep"], "me"));
    await Deno.writeTextFile(`${dir}/bad.jsonl`, "{oops\n");
    const run = await babble(["restore", `${dir}/bad.jsonl`, "--kv", kv]);
    assert.equal(run.code, 1);
    assert.doesNotMatch(run.stderr, /no store was created/);
    await withKvFile(kv, async (store) => {
      assert.equal((await store.get(["keep"])).value, "me");
    });
  }));

Deno.test("backup of a store that does not exist fails and creates none", () =>
  withTempDir(async (dir) => {
    const run = await babble([
      "backup",
      `${dir}/dump.jsonl`,
      "--kv",
      `${dir}/typo.kv`,
    ]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /no store at .*typo\.kv/);
    assert.deepEqual(await namesIn(dir), []);
  }));

/** The setup link a command printed, and its token. */
function setupLink(stdout: string): { link: string; token: string } {
  const match = /(http:\/\/localhost:\d+\/admin#token=([0-9a-f]{64}))/.exec(
    stdout,
  );
  assert.ok(match, stdout);
  return { link: match[1], token: match[2] };
}

async function adminCheck(
  server: { url: string },
  token: string,
): Promise<number> {
  const res = await fetch(`${server.url}/admin/check`, {
    headers: { authorization: `Bearer ${token}` },
  });
  await res.body?.cancel();
  return res.status;
}

Deno.test("admin reset-token prints a working link and retires the old token", () =>
  withTempDir(async (dir) => {
    const kv = `${dir}/babble.kv`;
    const first = await babble(["admin", "reset-token", "--kv", kv]);
    assert.equal(first.code, 0, first.stderr);
    const old = setupLink(first.stdout);
    assert.ok(old.link.startsWith("http://localhost:8000/admin#token="));

    const second = await babble(["admin", "reset-token", "--kv", kv], {
      BABBLE_PORT: "8123",
    });
    assert.equal(second.code, 0, second.stderr);
    const fresh = setupLink(second.stdout);
    assert.ok(fresh.link.startsWith("http://localhost:8123/admin#"));
    assert.notEqual(fresh.token, old.token);
    const flag = await babble([
      "admin",
      "reset-token",
      "--port",
      "9001",
      "--kv",
      `${dir}/other.kv`,
    ]);
    assert.ok(setupLink(flag.stdout).link.startsWith("http://localhost:9001/"));

    await using server = await startTestServer({ kv });
    assert.equal(await adminCheck(server, fresh.token), 200);
    assert.equal(await adminCheck(server, old.token), 401);
    await withKvFile(kv, async (store) => {
      for await (const entry of store.list({ prefix: [] })) {
        assert.ok(!JSON.stringify(entry.value ?? null).includes(fresh.token));
      }
    });
  }));

/**
 * Runs `babble serve` on `kv` until its stdout matches `until`, checks the
 * setup link's token (if one was printed) against it, then stops it.
 * Resolves to everything it printed, and the check's status.
 */
async function serveOnce(
  kv: string,
  { env = {}, until }: { env?: Record<string, string>; until: RegExp },
): Promise<{ out: string; check: number | null }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "main.ts",
      "serve",
      ...["--port", "0", "--host", "127.0.0.1", "--kv", kv],
      ...["--transcode-workers", "1", "--log-level", "error"],
    ],
    cwd: ROOT,
    env: babbleEnv(env),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  let out = "";
  while (!until.test(out)) {
    const { value, done } = await reader.read();
    if (done) break;
    out += value;
  }
  const port = /serving on http:\/\/[^:]+:(\d+)/.exec(out)?.[1];
  const token = /#token=([0-9a-f]{64})/.exec(out)?.[1];
  const check = port && token
    ? await adminCheck({ url: `http://127.0.0.1:${port}` }, token)
    : null;
  child.kill("SIGTERM");
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    out += value;
  }
  await child.status;
  assert.ok(port, out);
  return { out, check };
}

Deno.test("serve prints the admin setup link on first start only", () =>
  withTempDir(async (dir) => {
    const kv = `${dir}/babble.kv`;
    const first = await serveOnce(kv, { until: /admin/i });
    const { token } = setupLink(first.out);
    assert.equal(first.check, 200, "the printed token works");
    const second = await serveOnce(kv, { until: /admin/i });
    assert.doesNotMatch(second.out, /#token=/);
    assert.match(second.out, /admin token exists; babble admin reset-token/);
    await withKvFile(kv, async (store) => {
      for await (const entry of store.list({ prefix: [] })) {
        const value = entry.value instanceof Uint8Array
          ? new TextDecoder().decode(entry.value)
          : JSON.stringify(
            entry.value ?? null,
            (_, v) => typeof v === "bigint" ? String(v) : v,
          );
        assert.ok(!value.includes(token), JSON.stringify(entry.key));
      }
    });
  }));

Deno.test("serve with --admin-token makes no token and prints no link", () =>
  withTempDir(async (dir) => {
    const kv = `${dir}/babble.kv`;
    const { out } = await serveOnce(kv, {
      env: { BABBLE_ADMIN_TOKEN: "configured-admin-token-123" },
      until: /serving on/,
    });
    assert.match(out, /Babble has shut down/);
    assert.doesNotMatch(out, /token/i);
    await withKvFile(kv, async (store) => {
      assert.equal((await store.get(["admin_token"])).value, null);
    });
  }));
