import assert from "node:assert/strict";
import {
  loadConfig,
  SETTINGS,
  settingsHelp,
  testConfig,
} from "../../../domain/platform/config.ts";

/** Configuration: flags, then BABBLE_* variables, then defaults. */

Deno.test("defaults: port 8000, all interfaces, ./data/babble.kv", () => {
  const config = loadConfig({}, {});
  assert.equal(config.port, 8000);
  assert.equal(config.host, "0.0.0.0");
  assert.equal(config.kv, "./data/babble.kv");
  assert.equal(config.adminToken, undefined);
  assert.equal(config.corsOrigins, "*");
  assert.equal(config.logLevel, "info");
  assert.equal(config.lobbyTcpPort, undefined);
  assert.ok(config.transcodeWorkers >= 1);
});

Deno.test("an environment variable overrides the default", () => {
  const config = loadConfig({}, {
    BABBLE_PORT: "9000",
    BABBLE_KV: ":memory:",
    BABBLE_ADMIN_TOKEN: "0123456789abcdef",
  });
  assert.equal(config.port, 9000);
  assert.equal(config.kv, ":memory:");
  assert.equal(config.adminToken, "0123456789abcdef");
});

Deno.test("a flag overrides the environment", () => {
  const config = loadConfig(
    { port: "7000", kv: "/tmp/x.kv" },
    { BABBLE_PORT: "9000", BABBLE_KV: ":memory:" },
  );
  assert.equal(config.port, 7000);
  assert.equal(config.kv, "/tmp/x.kv");
});

Deno.test("an empty value falls back to unset", () => {
  const config = loadConfig({}, { BABBLE_ADMIN_TOKEN: "" });
  assert.equal(config.adminToken, undefined);
});

Deno.test("a bad value names the flag, its variable and the value", () => {
  const cases: [Record<string, string>, Record<string, string>, RegExp][] = [
    [
      { port: "abc" },
      {},
      /--port \/ BABBLE_PORT must be a port number \(0-65535\), got "abc"$/,
    ],
    [{}, { BABBLE_PORT: "70000" }, /--port \/ BABBLE_PORT .*got "70000"/],
    [{ "admin-token": "short" }, {}, /--admin-token .*at least 16 characters/],
    [
      { "log-level": "loud" },
      {},
      /--log-level \/ BABBLE_LOG_LEVEL is invalid .*got "loud"/,
    ],
    [{ "transcode-workers": "0" }, {}, /--transcode-workers/],
    [{ "wechat-base-url": "not a url" }, {}, /--wechat-base-url/],
    [{ demo: "maybe" }, {}, /--demo \/ BABBLE_DEMO must be on or off/],
  ];
  for (const [flags, env, pattern] of cases) {
    assert.throws(() => loadConfig(flags, env), pattern);
  }
});

Deno.test("testConfig: in-memory store on an ephemeral loopback port", () => {
  const config = testConfig({ transcodeWorkers: 1 });
  assert.equal(config.kv, ":memory:");
  assert.equal(config.port, 0);
  assert.equal(config.host, "127.0.0.1");
  assert.equal(config.transcodeWorkers, 1);
});

Deno.test("settingsHelp lists every flag with its variable", () => {
  const help = settingsHelp();
  for (const setting of Object.values(SETTINGS)) {
    assert.match(help, new RegExp(`--${setting.flag}\\s+${setting.env}`));
  }
  assert.match(help, /--port\s+BABBLE_PORT\s+.*\(default 8000\)/);
});
