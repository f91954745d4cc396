/**
 * `deno task bench`: runs every benchmark and writes one JSON report to
 * tests/bench/report.json (and prints it). Figures, not assertions: each
 * section carries its goal and whether this run met it.
 */
import { benchFriendList } from "./http_bench.ts";
import { benchRealtime } from "./realtime_bench.ts";
import { benchTranscode } from "./transcode_bench.ts";
import { aiBench } from "./ai_bench.ts";
import { emotionBench } from "./emotion_bench.ts";

const sections: [string, () => Promise<Record<string, unknown>>][] = [
  ["friend_list", benchFriendList],
  ["realtime", benchRealtime],
  ["transcode", benchTranscode],
  ["ai", aiBench],
  ["emotion", emotionBench],
];

const only = Deno.args.length ? new Set(Deno.args) : null;
const report: Record<string, unknown> = {
  date: new Date().toISOString(),
  deno: Deno.version.deno,
  cores: navigator.hardwareConcurrency,
};
for (const [name, run] of sections) {
  if (only && !only.has(name)) continue;
  console.error(`bench: ${name} ...`);
  const started = performance.now();
  try {
    report[name] = await run();
  } catch (err) {
    report[name] = { error: err instanceof Error ? err.message : String(err) };
  }
  console.error(
    `bench: ${name} done in ${
      ((performance.now() - started) / 1000).toFixed(1)
    } s`,
  );
}
const out = new URL("./report.json", import.meta.url);
await Deno.writeTextFile(out, JSON.stringify(report, null, 2) + "\n");
console.log(JSON.stringify(report, null, 2));
console.error(`bench: report written to ${out.pathname}`);
