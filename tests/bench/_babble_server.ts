/**
 * A Babble server in its own process, for the realtime benchmark: serves
 * the KV file given as the first argument on an ephemeral 127.0.0.1 port
 * and prints `READY <url>`. SIGUSR1 collects garbage (when run with
 * `--v8-flags=--expose-gc`) and prints `MEM <Deno.memoryUsage() JSON>`;
 * SIGTERM shuts it down gracefully.
 *
 * Usage: deno run -A --v8-flags=--expose-gc _babble_server.ts <kv> [workers]
 */

import { testConfig } from "../../domain/platform/config.ts";
import { startServer } from "../../main.ts";
import { reportMemoryOnSignal } from "./_bench_process.ts";

const [kv, workers] = Deno.args;
const server = await startServer(
  testConfig({
    kv,
    transcodeWorkers: Number(workers) || navigator.hardwareConcurrency,
  }),
  { quiet: true },
);
reportMemoryOnSignal(() => server.close());
console.log(`READY ${server.url}`);
