import assert from "node:assert/strict";
import { putBlob } from "../../../domain/store/blobs.ts";
import { startTestServer } from "../../_server.ts";

/**
 * Media downloads (/get_music, /get_cover, /get_image): names are checked
 * before anything is looked up, nothing is read outside the blob store, and
 * HTTP Range requests work as players use them.
 */

const STATIC = new URL("../../../static/", import.meta.url);
const SUCCESS = await Deno.readFile(new URL("prompts/Success.mp3", STATIC));

/**
 * Sends a GET with the request target exactly as written (fetch would
 * normalise `..`, `%2e%2e` and backslashes away) and returns status and body.
 */
async function rawGet(
  port: number,
  target: string,
): Promise<{ status: number; body: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(
    new TextEncoder().encode(
      `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
    ),
  );
  const text = await new Response(conn.readable).text();
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
  return { status, body: text.slice(text.indexOf("\r\n\r\n") + 4) };
}

const TRAVERSALS = [
  "../../etc/passwd",
  "..%2F..%2Fetc%2Fpasswd",
  "..%2f..%2f..%2f..%2fetc%2fpasswd",
  "%2e%2e/%2e%2e/etc/passwd",
  "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
  "%252e%252e%252fetc%252fpasswd",
  "..",
  "%2e%2e",
  "/etc/passwd",
  "%2Fetc%2Fpasswd",
  "..\\..\\etc\\passwd",
  "..%5C..%5Cetc%5Cpasswd",
  "C:%5CWindows%5Cwin.ini",
  "Success.mp3%00.jpg",
  "Success.mp3%2F..%2F..%2Fetc%2Fpasswd",
  "....//....//etc/passwd",
  "%c0%ae%c0%ae%2fetc%2fpasswd",
  "static%2Fprompts%2FSuccess.mp3",
  "..%2Fstatic%2Fprompts%2FSuccess.mp3",
];

Deno.test({
  name: "traversal names on media routes are 4xx and read no file",
  // The server may read only static/ (its built-in media, at start-up): a
  // route that touched /etc or the source tree would fail with a 500.
  permissions: {
    read: [STATIC.pathname],
    net: true,
    env: true,
    sys: true,
    write: false,
    run: false,
  },
  async fn(t) {
    await using server = await startTestServer();
    for (const route of ["get_music", "get_cover", "get_image", "get_chat"]) {
      await t.step(route, async () => {
        for (const name of TRAVERSALS) {
          const { status, body } = await rawGet(
            server.port,
            `/${route}/${name}`,
          );
          assert.ok(status >= 400 && status < 500, `${name}: ${status}`);
          assert.ok(!body.includes("root:"), name);
          const envelope = JSON.parse(body);
          assert.equal(envelope.code, status, name);
          assert.equal(typeof envelope.msg, "string");
        }
      });
    }
    await t.step("the same names through fetch", async () => {
      for (const name of TRAVERSALS) {
        const res = await fetch(`${server.url}/get_music/${name}`);
        const text = await res.text();
        assert.ok(!text.includes("root:"), name);
        // fetch resolves dot segments itself ("/get_music/.." is "/", the
        // landing page); whatever still reaches a media route is refused.
        if (new URL(res.url).pathname.startsWith("/get_music/")) {
          assert.ok(res.status >= 400 && res.status < 500, `${name}`);
        }
      }
    });
    await t.step("get_qr too", async () => {
      for (const name of TRAVERSALS) {
        const { status } = await rawGet(server.port, `/get_qr/${name}`);
        assert.ok(status >= 400 && status < 500, `${name}: ${status}`);
      }
    });
  },
});

async function get(
  url: string,
  range?: string,
  method = "GET",
): Promise<{ status: number; headers: Headers; bytes: Uint8Array }> {
  const res = await fetch(url, {
    method,
    headers: range ? { range } : {},
  });
  return {
    status: res.status,
    headers: res.headers,
    bytes: new Uint8Array(await res.arrayBuffer()),
  };
}

Deno.test("get_music serves Success.mp3 byte for byte, with Range", async (t) => {
  await using server = await startTestServer();
  const url = `${server.url}/get_music/Success.mp3`;
  const size = SUCCESS.length;

  await t.step("whole file: 200, every byte", async () => {
    const res = await get(url);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("accept-ranges"), "bytes");
    assert.equal(res.headers.get("content-type"), "audio/mpeg");
    assert.deepEqual(res.bytes, SUCCESS);
  });

  await t.step("bytes=0-99: 206, Content-Range, 100 bytes", async () => {
    const res = await get(url, "bytes=0-99");
    assert.equal(res.status, 206);
    assert.equal(res.headers.get("content-range"), `bytes 0-99/${size}`);
    assert.equal(res.headers.get("content-length"), "100");
    assert.deepEqual(res.bytes, SUCCESS.subarray(0, 100));
  });

  await t.step("a middle range", async () => {
    const res = await get(url, "bytes=1000-1999");
    assert.equal(res.status, 206);
    assert.equal(res.headers.get("content-range"), `bytes 1000-1999/${size}`);
    assert.deepEqual(res.bytes, SUCCESS.subarray(1000, 2000));
  });

  await t.step("suffix bytes=-100: the last 100 bytes", async () => {
    const res = await get(url, "bytes=-100");
    assert.equal(res.status, 206);
    assert.equal(
      res.headers.get("content-range"),
      `bytes ${size - 100}-${size - 1}/${size}`,
    );
    assert.deepEqual(res.bytes, SUCCESS.subarray(size - 100));
  });

  await t.step("a suffix longer than the file is the whole file", async () => {
    const res = await get(url, `bytes=-${size * 2}`);
    assert.equal(res.status, 206);
    assert.deepEqual(res.bytes, SUCCESS);
  });

  await t.step("open-ended bytes=N-", async () => {
    const res = await get(url, `bytes=${size - 10}-`);
    assert.equal(res.status, 206);
    assert.deepEqual(res.bytes, SUCCESS.subarray(size - 10));
  });

  await t.step("an end past the file is clamped", async () => {
    const res = await get(url, `bytes=${size - 5}-${size + 500}`);
    assert.equal(res.status, 206);
    assert.equal(
      res.headers.get("content-range"),
      `bytes ${size - 5}-${size - 1}/${size}`,
    );
    assert.equal(res.bytes.length, 5);
  });

  await t.step("unsatisfiable: 416 with bytes */size", async () => {
    for (
      const range of [
        `bytes=${size}-`,
        `bytes=${size + 10}-${size + 20}`,
        "bytes=-0",
        "bytes=50-10",
      ]
    ) {
      const res = await get(url, range);
      assert.equal(res.status, 416, range);
      assert.equal(res.headers.get("content-range"), `bytes */${size}`);
      assert.equal(res.headers.get("cache-control"), "no-store");
      const envelope = JSON.parse(new TextDecoder().decode(res.bytes));
      assert.equal(envelope.code, 416, range);
    }
  });

  await t.step("a range we do not honour gets the whole file", async () => {
    for (const range of ["bytes=0-1,5-6", "items=0-5", "bytes=abc"]) {
      const res = await get(url, range);
      assert.equal(res.status, 200, range);
      assert.deepEqual(res.bytes, SUCCESS);
    }
  });

  await t.step("HEAD: headers only", async () => {
    const res = await get(url, undefined, "HEAD");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-length"), String(size));
    assert.equal(res.bytes.length, 0);
  });
});

Deno.test("ranges across the store's 60 KiB chunks", async () => {
  await using server = await startTestServer();
  const bytes = new Uint8Array(200_000);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + (i >> 8)) & 0xff;
  await putBlob(server.kv, "long-song.mp3", bytes, { kind: "music" });
  const url = `${server.url}/get_music/long-song.mp3`;
  const whole = await get(url);
  assert.deepEqual(whole.bytes, bytes);
  for (
    const [start, end] of [
      [61_000, 130_000],
      [61_439, 61_440],
      [0, 61_440],
      [184_320, 199_999],
    ]
  ) {
    const res = await get(url, `bytes=${start}-${end}`);
    assert.equal(res.status, 206);
    assert.deepEqual(
      res.bytes,
      bytes.subarray(start, end + 1),
      `${start}-${end}`,
    );
  }
});

Deno.test("a player that stops reading mid-file leaves nothing open", async () => {
  await using server = await startTestServer();
  await putBlob(server.kv, "big.mp3", new Uint8Array(500_000), {
    kind: "music",
  });
  const res = await fetch(`${server.url}/get_music/big.mp3`);
  const reader = res.body!.getReader();
  await reader.read();
  await reader.cancel();
  const again = await get(`${server.url}/get_music/big.mp3`, "bytes=0-9");
  assert.equal(again.status, 206);
});
