/**
 * What the benchmark's server processes share: a memory report on SIGUSR1
 * (after a full GC when `--v8-flags=--expose-gc` is on) and a graceful
 * exit on SIGTERM.
 */

/** Wires SIGUSR1 (print `MEM {...}`) and SIGTERM (run `close`, exit 0). */
export function reportMemoryOnSignal(close: () => Promise<void>): void {
  Deno.addSignalListener("SIGUSR1", () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    console.log(`MEM ${JSON.stringify(Deno.memoryUsage())}`);
  });
  Deno.addSignalListener("SIGTERM", async () => {
    await close();
    Deno.exit(0);
  });
}
