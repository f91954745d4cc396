import assert from "node:assert/strict";
import {
  authenticateUser,
  registerUser,
} from "../../domain/smart_toy/accounts.ts";
import { readBlob } from "../../domain/store/blobs.ts";
import { listContent } from "../../domain/smart_toy/content.ts";
import { getDevice } from "../../domain/smart_toy/devices.ts";
import { startTestServer } from "../_server.ts";
import { okData, send } from "../_toy_fixtures.ts";

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

/** Runs `main.ts args…` with no BABBLE_* variables from the test's own environment. */
async function babble(args: string[]): Promise<Run> {
  const env = Object.fromEntries(
    Object.entries(Deno.env.toObject()).filter(([k]) =>
      !k.startsWith("BABBLE_")
    ),
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", ...args],
    cwd: ROOT,
    env: { ...env, NO_COLOR: "1" },
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

Deno.test("devices mint without --qr-dir prints keys only; default count 1", () =>
  withTempDir(async (dir) => {
    const run = await babble(["devices", "mint", "--kv", `${dir}/x.kv`]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^[0-9a-f]{32}\n$/);
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
      okData(await send(server, "/content_list", {}));
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
    const login = okData(
      await send(restored, "/login", {
        username: "keeper",
        password: "backup-pass",
      }),
    );
    assert.equal(login._id, userId);
  }));

Deno.test("--help works on every level", async (t) => {
  const cases: [string[], RegExp][] = [
    [["--help"], /usage: babble \[serve\]/],
    [["-h"], /usage: babble \[serve\]/],
    [["help"], /usage: babble \[serve\]/],
    [["serve", "--help"], /--port\s+BABBLE_PORT/],
    [["devices", "--help"], /usage: babble devices mint --count N/],
    [["devices", "mint", "--help"], /usage: babble devices mint --count N/],
    [["content", "--help"], /usage: babble content import <folder>/],
    [["content", "import", "--help"], /usage: babble content import <folder>/],
    [["backup", "--help"], /usage: babble backup <file\.jsonl>/],
    [["restore", "--help"], /usage: babble restore <file\.jsonl>/],
  ];
  for (const [args, pattern] of cases) {
    await t.step(args.join(" "), async () => {
      const run = await babble(args);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, pattern);
    });
  }
});

Deno.test("bad flags and values exit non-zero with a clear message", async (t) => {
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
      [
        ["serve", "--port", "abc", "--kv", kv],
        /--port \(BABBLE_PORT\) got "abc"/,
      ],
      [["--port", "99999", "--kv", kv], /--port \(BABBLE_PORT\) got "99999"/],
      [["serve", "--log-level", "loud", "--kv", kv], /--log-level/],
      [["serve", "--frobnicate", "--kv", kv], /Unknown option '--frobnicate'/],
      [["frobnicate"], /unknown command "frobnicate"/],
      [
        ["restore", `${dir}/missing.jsonl`, "--kv", `${dir}/r.kv`],
        /missing\.jsonl/,
      ],
    ];
    for (const [args, pattern] of cases) {
      await t.step(args.join(" "), async () => {
        const run = await babble(args);
        assert.notEqual(run.code, 0, run.stdout);
        assert.match(run.stderr, pattern);
      });
    }
    await t.step(
      "a subcommand without its argument prints its usage",
      async () => {
        for (const args of [["devices"], ["content", "import"], ["backup"]]) {
          const run = await babble([...args, "--kv", kv]);
          assert.notEqual(run.code, 0);
          assert.match(run.stdout, /usage: babble/);
        }
      },
    );
    await t.step("a rejected --count wrote no store", async () => {
      const files: string[] = [];
      for await (const e of Deno.readDir(dir)) files.push(e.name);
      assert.ok(!files.some((f) => f.startsWith("x.kv")), files.join(","));
    });
  });
});
