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

/** True when `name` is a command on the PATH (e.g. `taskset`, `wrk`). */
export async function commandExists(name: string): Promise<boolean> {
  try {
    const out = await new Deno.Command("sh", {
      args: ["-c", `command -v ${name}`],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}
