import assert from "node:assert/strict";
import { startTestServer } from "../_server.ts";
import { fixture, newFamily, ok, send, toySocket, upload } from "../_family.ts";

/** Operating routes: /healthz, /metrics and /openapi.json. */

/** The smart-toy routes CONTRACTS.md lists for the foundation. */
const TOY_ROUTES: [string, string][] = [
  ["post", "/reg"],
  ["post", "/login"],
  ["post", "/auto_login"],
  ["post", "/logout"],
  ["post", "/content_list"],
  ["get", "/get_music/{file}"],
  ["get", "/get_cover/{file}"],
  ["get", "/get_image/{file}"],
  ["get", "/get_qr/{file}"],
  ["post", "/scan_qr"],
  ["post", "/bind_toy"],
  ["post", "/unbind_toy"],
  ["post", "/toy_list"],
  ["post", "/open_toy"],
  ["post", "/friend_list"],
  ["post", "/add_req"],
  ["post", "/req_list"],
  ["post", "/acc_req"],
  ["post", "/ref_req"],
  ["post", "/admin/devices"],
  ["get", "/healthz"],
  ["get", "/metrics"],
  ["get", "/openapi.json"],
];

Deno.test("/healthz: 200 ok with the store reachable", async () => {
  await using server = await startTestServer();
  const res = await fetch(`${server.url}/healthz`);
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.deepEqual(Object.keys(body).sort(), [
    "ai",
    "kv",
    "sockets",
    "status",
    "systems",
    "uptime_s",
    "version",
  ]);
  assert.deepEqual(body.ai, { stt: false, chat: false, tts: false });
  assert.equal(body.status, "ok");
  assert.equal(body.kv, "ok");
});

Deno.test("/openapi.json describes every route, in every encoding", async () => {
  await using server = await startTestServer();
  const res = await fetch(`${server.url}/openapi.json`);
  assert.equal(res.status, 200);
  const doc = await res.json();
  assert.equal(doc.openapi, "3.1.0");
  for (const [method, path] of TOY_ROUTES) {
    assert.ok(doc.paths[path]?.[method], `${method.toUpperCase()} ${path}`);
  }
  const bind = doc.paths["/bind_toy"].post;
  assert.deepEqual(Object.keys(bind.requestBody.content).sort(), [
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
  ]);
  const schema = bind.requestBody.content["application/json"].schema;
  assert.deepEqual(
    [...schema.required].sort(),
    ["baby_name", "device_key", "remark", "toy_name", "user_id"],
  );
  assert.notEqual(schema.additionalProperties, false);
  assert.deepEqual(bind.security, [{ bearer: [] }]);
  assert.deepEqual(doc.paths["/reg"].post.security, []);
  assert.deepEqual(doc.paths["/get_music/{file}"].get.parameters, [
    { name: "file", in: "path", required: true, schema: { type: "string" } },
  ]);
});

Deno.test("the OpenAPI document comes from the schemas that validate", async () => {
  await using server = await startTestServer();
  const doc = await (await fetch(`${server.url}/openapi.json`)).json();
  const body = doc.paths["/scan_qr"].post.requestBody;
  assert.deepEqual(
    Object.keys(body.content["application/json"].schema.properties).sort(),
    ["device_key", "token"],
  );
});

Deno.test("/openapi.json documents query parameters and websockets", async () => {
  await using server = await startTestServer();
  const doc = await (await fetch(`${server.url}/openapi.json`)).json();
  const names = doc.paths["/admin/devices"].get.parameters.map((
    p: { name: string; in: string },
  ) => `${p.in}:${p.name}`);
  assert.ok(names.includes("query:limit"), names.join(","));
  assert.deepEqual(doc.servers, [{ url: server.url }]);
  const sockets = doc["x-websockets"].map((w: { path: string }) => w.path);
  assert.ok(sockets.includes("/app/{user_id}"));
  assert.ok(sockets.includes("/api/socket"));
  const upload = doc.paths["/app_uploader"].post.requestBody.content[
    "multipart/form-data"
  ].schema;
  assert.deepEqual(upload.properties.reco_file, {
    type: "string",
    format: "binary",
  });
});

Deno.test("/openapi.json does not grow when more servers start", async () => {
  await using a = await startTestServer();
  const first = await (await fetch(`${a.url}/openapi.json`)).text();
  await using b = await startTestServer();
  const second = await (await fetch(`${b.url}/openapi.json`)).text();
  assert.equal(second.length, first.replace(a.url, b.url).length);
});

Deno.test("/metrics counts responses by status class", async () => {
  await using server = await startTestServer();
  await (await fetch(`${server.url}/healthz`)).body?.cancel();
  await send(server, "/toy_list", {});
  const res = await fetch(`${server.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain/);
  const text = await res.text();
  assert.match(text, /babble_http_responses_total\{status="2xx"\} \d+/);
  assert.match(text, /babble_http_responses_total\{status="4xx"\} 1/);
  assert.match(text, /# TYPE babble_uptime_seconds gauge/);
});

Deno.test("CORS preflight allows the configured origins", async () => {
  await using server = await startTestServer({
    corsOrigins: "https://app.example",
  });
  const ok = await fetch(`${server.url}/login`, {
    method: "OPTIONS",
    headers: {
      origin: "https://app.example",
      "access-control-request-method": "POST",
      "access-control-request-headers": "authorization, content-type",
    },
  });
  await ok.body?.cancel();
  assert.equal(
    ok.headers.get("access-control-allow-origin"),
    "https://app.example",
  );
  const other = await fetch(`${server.url}/healthz`, {
    headers: { origin: "https://evil.example" },
  });
  await other.body?.cancel();
  assert.notEqual(
    other.headers.get("access-control-allow-origin"),
    "https://evil.example",
  );
});

Deno.test("/metrics: HELP and TYPE lines, transcode and HTTP histograms, sockets by kind", async () => {
  await using server = await startTestServer();
  const family = await newFamily(server);
  ok(
    await upload(
      server,
      "/app_uploader",
      {
        to_user: family.toyId,
        user_id: family.userId,
      },
      { field: "reco_file", bytes: await fixture("speech.amr") },
      family.token,
    ),
  );
  await using toy = await toySocket(server, family);
  await toy.next((f) => f.type === "chat");
  const text = await (await fetch(`${server.url}/metrics`)).text();
  assert.match(text, /babble_delivery_seconds_count 1/);
  assert.match(
    text,
    /babble_kv_commit_seconds_count\{what="messages",outcome="ok"\} 1/,
  );
  assert.match(text, /# HELP babble_transcode_seconds .+/);
  assert.match(text, /# TYPE babble_transcode_seconds histogram/);
  assert.match(
    text,
    /babble_transcode_seconds_count\{format="amr",outcome="ok"\} 1/,
  );
  assert.match(text, /# TYPE babble_http_request_seconds histogram/);
  assert.match(
    text,
    /babble_http_request_seconds_bucket\{route="\/app_uploader"/,
  );
  assert.match(text, /# TYPE babble_open_sockets gauge/);
  assert.match(text, /babble_open_sockets\{kind="smart_toy"\} 1/);
  assert.match(text, /babble_open_sockets\{kind="lobby"\} 0/);
});
