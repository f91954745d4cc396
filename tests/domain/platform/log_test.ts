import assert from "node:assert/strict";
import {
  createLogger,
  isSecretField,
  redact,
  REDACTED,
} from "../../../domain/platform/log.ts";

/**
 * Logs: text or JSON lines at or above the level, and nothing secret in
 * any line, whatever the field's depth or spelling.
 */

function capture(format: "text" | "json", level: "debug" | "info" = "info") {
  const lines: string[] = [];
  const log = createLogger(level, { format, sink: (l) => lines.push(l) });
  return { log, lines };
}

Deno.test("json format: one object per line with time, level, msg and fields", () => {
  const { log, lines } = capture("json");
  log.debug("dropped");
  log.info("listening", { url: "http://127.0.0.1:1", request_id: "abc" });
  assert.equal(lines.length, 1);
  const line = JSON.parse(lines[0]);
  assert.equal(line.level, "info");
  assert.equal(line.msg, "listening");
  assert.equal(line.url, "http://127.0.0.1:1");
  assert.equal(line.request_id, "abc");
  assert.ok(!Number.isNaN(Date.parse(line.time)));
});

Deno.test("a field cannot overwrite level or msg", () => {
  const { log, lines } = capture("json");
  log.warn("real", { level: "debug", msg: "forged" });
  const line = JSON.parse(lines[0]);
  assert.equal(line.level, "warn");
  assert.equal(line.msg, "real");
});

Deno.test("text format: level, message and key=value fields", () => {
  const { log, lines } = capture("text");
  log.error("upload failed", { route: "/app_uploader", why: "two words" });
  assert.match(
    lines[0],
    /ERROR upload failed route=\/app_uploader why="two words"$/,
  );
});

Deno.test("secrets are redacted in both formats, at any depth", () => {
  const secrets = {
    token: "tok-1",
    password: "hunter2",
    device_key: "0123456789abcdef0123456789abcdef",
    session_key: "wx-session",
    authorization: "Bearer abc",
    nested: {
      deviceKey: "dk",
      list: [{ sessionKey: "sk", accessToken: "at" }],
    },
    header: "Authorization: Bearer sekret-value",
    url: "/get_chat/x.mp3?token=sekret-query&x=1",
  };
  for (const format of ["json", "text"] as const) {
    const { log, lines } = capture(format);
    log.info("request", secrets);
    for (
      const leaked of [
        "tok-1",
        "hunter2",
        "0123456789abcdef",
        "wx-session",
        "abc",
        'dk"',
        'sk"',
        'at"',
        "sekret",
      ]
    ) {
      assert.ok(
        !lines[0].includes(leaked),
        `${format} leaked ${leaked}: ${lines[0]}`,
      );
    }
    assert.ok(lines[0].includes(REDACTED));
  }
  const out = redact(secrets) as Record<string, unknown>;
  assert.equal(out.url, `/get_chat/x.mp3?token=${REDACTED}&x=1`);
});

Deno.test("secret field names and ordinary ones", () => {
  for (
    const name of [
      "token",
      "Token",
      "app_token",
      "password",
      "device_key",
      "deviceKey",
      "session_key",
      "Authorization",
      "tokens",
    ]
  ) assert.ok(isSecretField(name), name);
  for (
    const name of ["user_id", "toy_id", "msg", "tokenizer_name", "key", "count"]
  ) {
    assert.ok(!isSecretField(name), name);
  }
});

Deno.test("redact bounds cycles, depth and long strings", () => {
  const a: Record<string, unknown> = { name: "a" };
  a.self = a;
  assert.deepEqual(redact(a), { name: "a", self: "[cycle]" });
  let deep: unknown = "bottom";
  for (let i = 0; i < 50; i++) deep = { d: deep };
  assert.ok(JSON.stringify(redact(deep)).includes("[too deep]"));
  assert.ok((redact("x".repeat(100_000)) as string).length < 5_000);
});
