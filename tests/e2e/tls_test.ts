import assert from "node:assert/strict";
import { startTestServer } from "../_server.ts";

/**
 * --tls-cert/--tls-key: the server speaks HTTPS and wss:// itself, so a toy
 * needs no proxy. The certificate is made for the test with openssl.
 */

async function openssl(args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args,
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
}

/** A test CA and a server certificate for 127.0.0.1 signed by it. */
async function certificates(
  dir: string,
): Promise<{ ca: string; cert: string; key: string }> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
  await openssl([
    ...["req", "-x509", ...ec, "-nodes", "-days", "1", "-subj", "/CN=Test CA"],
    ...["-keyout", `${dir}/ca.key`, "-out", `${dir}/ca.pem`],
  ]);
  await openssl([
    ...["req", ...ec, "-nodes", "-subj", "/CN=127.0.0.1"],
    ...["-keyout", `${dir}/key.pem`, "-out", `${dir}/server.csr`],
  ]);
  await Deno.writeTextFile(
    `${dir}/ext.cnf`,
    "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\n",
  );
  await openssl([
    ...["x509", "-req", "-in", `${dir}/server.csr`, "-days", "1"],
    ...["-CA", `${dir}/ca.pem`, "-CAkey", `${dir}/ca.key`, "-CAcreateserial"],
    ...["-extfile", `${dir}/ext.cnf`, "-out", `${dir}/cert.pem`],
  ]);
  return {
    ca: `${dir}/ca.pem`,
    cert: `${dir}/cert.pem`,
    key: `${dir}/key.pem`,
  };
}

Deno.test("TLS: HTTPS (so wss:// too) on one port with --tls-cert/--tls-key", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { ca, cert, key } = await certificates(dir);
    await using server = await startTestServer({ tlsCert: cert, tlsKey: key });
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const client = Deno.createHttpClient({
      caCerts: [await Deno.readTextFile(ca)],
    });
    try {
      const res = await fetch(`${server.url}/healthz`, { client });
      assert.equal(res.status, 200);
      assert.equal((await res.json()).status, "ok");
    } finally {
      client.close();
    }
    // Plain HTTP on the TLS port is refused.
    await assert.rejects(
      fetch(server.url.replace("https:", "http:") + "/healthz"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("TLS: a certificate without its key is a clear start-up error", async () => {
  await assert.rejects(
    startTestServer({ tlsCert: "/nonexistent/cert.pem" }),
    /--tls-cert \/ BABBLE_TLS_CERT and --tls-key \/ BABBLE_TLS_KEY go together/,
  );
  await assert.rejects(
    startTestServer({
      tlsCert: "/nonexistent/c.pem",
      tlsKey: "/nonexistent/k.pem",
    }),
    /--tls-cert "\/nonexistent\/c.pem" cannot be read/,
  );
});
