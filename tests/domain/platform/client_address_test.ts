import assert from "node:assert/strict";
import {
  clientAddressOf,
  isTrusted,
  NO_PROXIES,
  parseCidrList,
} from "../../../domain/platform/client_address.ts";

/**
 * The client address: forwarding headers count only from a trusted peer,
 * and then the rightmost untrusted hop is the client.
 */

const h = (init: Record<string, string>) => new Headers(init);

Deno.test("parseCidrList: IPv4, IPv6, bare addresses; bad entries named", () => {
  const list = parseCidrList(
    " 127.0.0.1/32, 10.0.0.0/8 ,fd00::/8, ::1, 192.168.1.7",
  );
  assert.equal(list.entries.length, 5);
  assert.ok(isTrusted("10.200.3.4", list));
  assert.ok(isTrusted("fd12:3456::1", list));
  assert.ok(isTrusted("::1", list));
  assert.ok(isTrusted("192.168.1.7", list));
  assert.ok(!isTrusted("192.168.1.8", list));
  assert.ok(!isTrusted("11.0.0.1", list));
  assert.ok(!isTrusted("fe80::1", list));
  assert.ok(!isTrusted("not-an-ip", list));
  assert.equal(parseCidrList("").entries.length, 0);
  for (
    const bad of [
      "10.0.0.0/33",
      "1.2.3",
      "abc",
      "::1/129",
      "10.0.0.0/x",
      "1:2:3:4:5:6:7:8:9",
    ]
  ) {
    assert.throws(
      () => parseCidrList(bad),
      new RegExp(`"${bad.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}"`),
    );
  }
  assert.ok(isTrusted("1.2.3.4", parseCidrList("0.0.0.0/0")));
});

Deno.test("an untrusted peer's forwarding headers are ignored", () => {
  const headers = h({ "x-forwarded-for": "1.1.1.1", forwarded: "for=2.2.2.2" });
  assert.equal(clientAddressOf("9.9.9.9", headers, NO_PROXIES), "9.9.9.9");
  assert.equal(
    clientAddressOf("9.9.9.9", headers, parseCidrList("127.0.0.1/32")),
    "9.9.9.9",
  );
});

Deno.test("from a trusted peer: the rightmost untrusted X-Forwarded-For hop", () => {
  const trusted = parseCidrList("127.0.0.1/32,10.0.0.0/8");
  assert.equal(
    clientAddressOf(
      "127.0.0.1",
      h({ "x-forwarded-for": "6.6.6.6, 5.5.5.5" }),
      trusted,
    ),
    "5.5.5.5",
  );
  assert.equal(
    clientAddressOf(
      "127.0.0.1",
      h({ "x-forwarded-for": "6.6.6.6, 5.5.5.5, 10.1.1.1" }),
      trusted,
    ),
    "5.5.5.5",
  );
  assert.equal(clientAddressOf("127.0.0.1", h({}), trusted), "127.0.0.1");
  assert.equal(
    clientAddressOf("127.0.0.1", h({ "x-forwarded-for": "10.0.0.2" }), trusted),
    "10.0.0.2",
  );
  // Garbage in the chain stops the walk at the last believable hop.
  assert.equal(
    clientAddressOf(
      "127.0.0.1",
      h({ "x-forwarded-for": "5.5.5.5, junk" }),
      trusted,
    ),
    "127.0.0.1",
  );
});

Deno.test("Forwarded: for= with quotes, brackets, ports; IPv6 and mapped IPv4", () => {
  const trusted = parseCidrList("::1/128,127.0.0.0/8");
  assert.equal(
    clientAddressOf(
      "::1",
      h({ forwarded: 'for=192.0.2.60;proto=http, for="[2001:db8::17]:4711"' }),
      trusted,
    ),
    "2001:db8::17",
  );
  assert.equal(
    clientAddressOf(
      "::ffff:127.0.0.1",
      h({ "x-forwarded-for": "203.0.113.9:5555" }),
      trusted,
    ),
    "203.0.113.9",
  );
});
