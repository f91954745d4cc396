/**
 * `deno task bench [section...]`: runs the benchmarks (all, or the named
 * sections) and writes tests/bench/report.json (and prints it) plus a
 * short Markdown summary of the "how cost grows" tables beside it,
 * tests/bench/report.md. Figures, not assertions: each section carries
 * its goal and whether this run met it.
 *
 * Sections: http (alias friend_list), realtime (relay, idle sockets,
 * voice), durable, catchup, diaryu (pair chat end to end), transcode, ai,
 * emotion.
 */
import { benchHttp } from "./http_bench.ts";
import { benchRealtime } from "./realtime_bench.ts";
import { benchDurable } from "./durable_bench.ts";
import { benchCatchup } from "./catchup_bench.ts";
import { benchDiaryu } from "./diaryu_bench.ts";
import { benchTranscode } from "./transcode_bench.ts";
import { aiBench } from "./ai_bench.ts";
import { emotionBench } from "./emotion_bench.ts";
import { summaryMarkdown } from "./_summary.ts";

const sections: [string, () => Promise<Record<string, unknown>>][] = [
  ["http", () => benchHttp()],
  ["realtime", benchRealtime],
  ["durable", benchDurable],
  ["catchup", benchCatchup],
  ["diaryu", benchDiaryu],
  ["transcode", benchTranscode],
  ["ai", aiBench],
  ["emotion", emotionBench],
];
const ALIASES: Record<string, string> = { friend_list: "http" };

const only = Deno.args.length
  ? new Set(Deno.args.map((a) => ALIASES[a] ?? a))
  : null;
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
const md = new URL("./report.md", import.meta.url);
await Deno.writeTextFile(md, summaryMarkdown(report));
console.log(JSON.stringify(report, null, 2));
console.error(`bench: report written to ${out.pathname} and ${md.pathname}`);
