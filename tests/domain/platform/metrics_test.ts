import assert from "node:assert/strict";
import { Metrics } from "../../../domain/platform/metrics.ts";

/** What /metrics shows for histograms observed through shared label objects. */

function countOf(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line === undefined ? undefined : Number(line.split(" ")[1]);
}

Deno.test("a labels object reused across observations counts into one series per name", () => {
  const metrics = new Metrics();
  const ok = { route: "/friend_list", status: "2xx" };
  const failed = { route: "/friend_list", status: "4xx" };
  for (let i = 0; i < 3; i++) metrics.observe("req_seconds", ok, 0.002);
  metrics.observe("req_seconds", failed, 0.002);
  // The same labels object under another name is another series.
  metrics.observe("other_seconds", ok, 0.5);
  // Fresh objects with equal labels land in the same series.
  metrics.observe("req_seconds", { route: "/friend_list", status: "2xx" }, 1);

  const text = metrics.render();
  assert.equal(
    countOf(text, 'req_seconds_count{route="/friend_list",status="2xx"}'),
    4,
  );
  assert.equal(
    countOf(text, 'req_seconds_count{route="/friend_list",status="4xx"}'),
    1,
  );
  assert.equal(
    countOf(text, 'other_seconds_count{route="/friend_list",status="2xx"}'),
    1,
  );
  assert.equal(
    countOf(
      text,
      'req_seconds_bucket{route="/friend_list",status="2xx",le="0.005"}',
    ),
    3,
  );
});
