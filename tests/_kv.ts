/** Test helpers for domain tests: a throwaway in-memory KV or directory per test. */

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

/** Runs `fn` with a fresh temporary directory and removes it afterwards. */
export async function withTempDir(
  prefix: string,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
