import assert from "node:assert/strict";
import { deliveredCursor } from "../../../domain/smart_toy/messages.ts";
import { startTestServer } from "../../_server.ts";
import {
  appSocket,
  fixture,
  newFamily,
  ok,
  post,
  toySocket,
  upload,
} from "../../_family.ts";

/**
 * What ends a socket's rights: logout and unbind close open sockets (4001),
 * and a client cannot acknowledge more than it was sent.
 */

/** `promise`, or a failure after `ms` (no timer left behind). */
async function within<T>(promise: Promise<T>, ms = 5000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`not within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("logout closes the parent's open sockets with 4001", async () => {
  await using server = await startTestServer();
  const family = await newFamily(server);
  await using app = await appSocket(server, family);
  ok(await post(server, "/logout", {}, family.token));
  const closed = await within(app.closed);
  assert.equal(closed.code, 4001);
});

Deno.test("unbinding a toy closes its open socket and its token stops working", async () => {
  await using server = await startTestServer();
  const family = await newFamily(server);
  await using toy = await toySocket(server, family);
  ok(await post(server, "/unbind_toy", { toy_id: family.toyId }, family.token));
  const closed = await within(toy.closed);
  assert.equal(closed.code, 4001);
  const reply = await post(
    server,
    "/friend_list",
    { _id: family.toyId },
    family.toyToken,
  );
  assert.equal(reply.status, 401);
});

Deno.test("an ack beyond what the socket was sent cannot skip later messages", async () => {
  await using server = await startTestServer();
  const family = await newFamily(server);
  {
    await using app = await appSocket(server, family);
    app.send({ type: "ack", seq: 1e15 });
    // A ping answered means the ack before it was handled.
    app.send({ type: "ping" });
    await app.next((f) => f.type === "pong");
  }
  assert.equal(await deliveredCursor(server.kv, family.userId), 0);
  // While the app is offline the toy sends a voice message...
  ok(
    await upload(
      server,
      "/toy_uploader",
      { to_user: family.userId, user_id: family.toyId },
      { field: "reco", bytes: await fixture("speech.wav"), name: "a.wav" },
      family.toyToken,
    ),
  );
  // ...and the app gets it when it comes back.
  await using again = await appSocket(server, family);
  const event = await within(again.next((f) => f.type === "chat"));
  assert.equal(event.from_user, family.toyId);
});

Deno.test("a body cut short by the client is a 400, not a 500", async () => {
  await using server = await startTestServer();
  const { port } = new URL(server.url);
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: Number(port),
  });
  const request = "POST /login HTTP/1.1\r\nHost: x\r\n" +
    'Content-Type: application/json\r\nContent-Length: 10\r\n\r\n{"a":';
  await conn.write(new TextEncoder().encode(request));
  await conn.closeWrite();
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(4096);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
  }
  conn.close();
  const text = new TextDecoder().decode(
    chunks.reduce((a, b) => new Uint8Array([...a, ...b]), new Uint8Array()),
  );
  assert.match(text, /^HTTP\/1.1 400/, text.slice(0, 200));
  assert.match(text, /ended early/);
});
