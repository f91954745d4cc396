import assert from "node:assert/strict";
import { startTestServer } from "../_server.ts";

/**
 * Behind a reverse proxy: per-address limits key on the forwarded client
 * address only when the connection comes from a trusted proxy; a forged
 * X-Forwarded-For from anyone else is ignored. The test's own connections
 * come from 127.0.0.1, so trusting 127.0.0.1/32 makes the test the proxy.
 */

// /reg allows 20 registrations a minute per client address.
const REG_LIMIT = 20;

async function register(
  url: string,
  n: number,
  headers: Record<string, string>,
): Promise<Response> {
  const res = await fetch(`${url}/reg`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({
      username: `proxy_user_${n}_${crypto.randomUUID().slice(0, 8)}`,
      password: "correct horse battery",
      nickname: `n${n}`,
      gender: "1",
      avatar: "a.jpg",
    }),
  });
  return res;
}

Deno.test("trusted proxy: each forwarded client has its own limit", async () => {
  await using server = await startTestServer({
    trustedProxies: "127.0.0.1/32, ::1/128",
  });
  let n = 0;
  for (let i = 0; i < REG_LIMIT; i++) {
    const res = await register(server.url, n++, {
      "x-forwarded-for": "203.0.113.1",
    });
    assert.equal(res.status, 200, await res.text());
  }
  const refused = await register(server.url, n++, {
    "x-forwarded-for": "203.0.113.1",
  });
  assert.equal(refused.status, 429);
  const seconds = Number(refused.headers.get("retry-after"));
  assert.ok(seconds >= 1 && seconds <= 60, `Retry-After ${seconds}`);
  const body = await refused.json();
  assert.equal(body.code, 429);
  assert.match(body.msg, /too many/);
  // Another client behind the same proxy is not affected…
  const other = await register(server.url, n++, {
    "x-forwarded-for": "203.0.113.2",
  });
  assert.equal(other.status, 200, await other.text());
  // …and the rightmost untrusted hop counts, not what the client wrote first.
  const forgedLeft = await register(server.url, n++, {
    "x-forwarded-for": "198.51.100.9, 203.0.113.1",
  });
  assert.equal(forgedLeft.status, 429);
  await forgedLeft.body?.cancel();
  // RFC 7239 Forwarded works too.
  const forwarded = await register(server.url, n++, {
    forwarded: 'for="203.0.113.3"',
  });
  assert.equal(forwarded.status, 200, await forwarded.text());
});

Deno.test("untrusted peer: a forged X-Forwarded-For is ignored", async () => {
  await using server = await startTestServer({ trustedProxies: "10.0.0.0/8" });
  let n = 0;
  for (let i = 0; i < REG_LIMIT; i++) {
    const res = await register(server.url, n++, {
      "x-forwarded-for": `198.51.100.${i}`,
    });
    assert.equal(res.status, 200, await res.text());
  }
  const refused = await register(server.url, n++, {
    "x-forwarded-for": "198.51.100.250",
  });
  assert.equal(
    refused.status,
    429,
    "a new forged address must not buy a fresh limit",
  );
  assert.ok(Number(refused.headers.get("retry-after")) >= 1);
  await refused.body?.cancel();
});

Deno.test("every reply carries a request id; a sane proxy id is kept", async () => {
  await using server = await startTestServer();
  const a = await fetch(`${server.url}/healthz`);
  await a.body?.cancel();
  assert.match(a.headers.get("x-request-id") ?? "", /^[0-9a-f]{16}$/);
  const b = await fetch(`${server.url}/healthz`, {
    headers: { "x-request-id": "edge-1234abcd" },
  });
  await b.body?.cancel();
  assert.equal(b.headers.get("x-request-id"), "edge-1234abcd");
  const c = await fetch(`${server.url}/no/such/route`, {
    headers: { "x-request-id": "bad id with spaces" },
  });
  await c.body?.cancel();
  assert.equal(c.status, 404);
  assert.match(c.headers.get("x-request-id") ?? "", /^[0-9a-f]{16}$/);
});

Deno.test("/metrics: HTTP latency by route pattern and status class", async () => {
  await using server = await startTestServer();
  for (
    const id of ["aaaaaaaaaaaaaaaaaaaaaaaa.mp3", "bbbbbbbbbbbbbbbbbbbbbbbb.mp3"]
  ) {
    const res = await fetch(`${server.url}/get_music/${id}`);
    await res.body?.cancel();
  }
  const res = await fetch(`${server.url}/metrics`, {
    headers: server.deps.config.adminToken
      ? { authorization: `Bearer ${server.deps.config.adminToken}` }
      : {},
  });
  const text = await res.text();
  assert.equal(res.status, 200, text.slice(0, 200));
  assert.match(text, /# HELP babble_http_request_seconds /);
  assert.match(text, /# TYPE babble_http_request_seconds histogram/);
  assert.match(
    text,
    /babble_http_request_seconds_count\{route="\/get_music\/:file",status="4xx"\} 2/,
  );
  assert.ok(
    !text.includes("aaaaaaaaaaaaaaaaaaaaaaaa"),
    "raw paths must not become labels",
  );
  assert.match(text, /babble_upload_bytes_in_flight 0/);
});
