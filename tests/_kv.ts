/** Test helpers for domain tests: a throwaway in-memory KV per test. */

/** Runs `fn` with a fresh in-memory KV and closes it afterwards. */
export async function withKv(
  fn: (kv: Deno.Kv) => Promise<void>,
): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  try {
    await fn(kv);
  } finally {
    kv.close();
  }
}
