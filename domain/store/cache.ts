/**
 * Per-process read caches over KV that stay correct across instances.
 *
 * A write that changes a cached collection calls `touch(kv, topic)` once it
 * has committed: that clears this process's cache for the topic at once and
 * bumps the topic's epoch key, which every process watches (`startCaches`)
 * to clear its own. Until `startCaches` runs on a store, `cached` reads
 * through without storing, so code that never starts the watch (the CLI,
 * domain tests) never sees a stale value.
 *
 * | key                     | value                         |
 * | ----------------------- | ----------------------------- |
 * | ["cache_epoch", topic]  | Deno.KvU64, bumped with `sum` |
 */

/** The cached collections. */
export type Topic = "friends" | "sessions" | "blobs";

const TOPICS: Topic[] = ["friends", "sessions", "blobs"];
const MAX_ENTRIES = 50_000;

interface TopicCache {
  entries: Map<string, { value: unknown; expiresAt: number }>;
  /** Bumped on every clear; a load that started before a clear is not stored. */
  generation: number;
}

interface StoreCaches {
  topics: Map<Topic, TopicCache>;
  stop: () => Promise<void>;
}

const stores = new WeakMap<Deno.Kv, StoreCaches>();

function epochKey(topic: Topic): Deno.KvKey {
  return ["cache_epoch", topic];
}

function clear(caches: StoreCaches | undefined, topic: Topic): void {
  const cache = caches?.topics.get(topic);
  if (!cache) return;
  cache.entries.clear();
  cache.generation++;
}

/**
 * Starts caching for `kv`: watches the epoch keys so changes committed by
 * other processes clear this one's caches. Idempotent; `stopCaches` ends it.
 */
export function startCaches(kv: Deno.Kv): void {
  if (stores.has(kv)) return;
  const reader = kv.watch(TOPICS.map(epochKey)).getReader();
  let stopped = false;
  const caches: StoreCaches = {
    topics: new Map(
      TOPICS.map((t) => [t, { entries: new Map(), generation: 0 }]),
    ),
    stop: async () => {
      stopped = true;
      await reader.cancel().catch(() => {});
      await loop;
    },
  };
  const loop = (async () => {
    let last: (string | null)[] | null = null;
    while (!stopped) {
      const { value, done } = await reader.read().catch(() => ({
        value: null,
        done: true,
      }));
      if (done || !value) return;
      const stamps = value.map((e) => e.versionstamp);
      TOPICS.forEach((topic, i) => {
        if (last === null || last[i] !== stamps[i]) clear(caches, topic);
      });
      last = stamps;
    }
  })();
  stores.set(kv, caches);
}

/** Stops the watch `startCaches` began and drops the caches. */
export async function stopCaches(kv: Deno.Kv): Promise<void> {
  const caches = stores.get(kv);
  if (!caches) return;
  stores.delete(kv);
  await caches.stop();
}

/**
 * The value for `key` in `topic`: from this process's cache while fresh,
 * else from `load` (stored only when no change happened meanwhile, and
 * only when `keep` says so).
 */
export async function cached<V>(
  kv: Deno.Kv,
  topic: Topic,
  key: string,
  load: () => Promise<V>,
  { ttlMs = 60_000, keep }: {
    ttlMs?: number;
    /** Which loaded values may be stored (all by default). */
    keep?: (value: V) => boolean;
  } = {},
): Promise<V> {
  const cache = stores.get(kv)?.topics.get(topic);
  if (!cache) return await load();
  const now = Date.now();
  const hit = cache.entries.get(key);
  if (hit && hit.expiresAt > now) return hit.value as V;
  const generation = cache.generation;
  const value = await load();
  if (cache.generation === generation && (!keep || keep(value))) {
    if (cache.entries.size >= MAX_ENTRIES) cache.entries.clear();
    cache.entries.set(key, { value, expiresAt: now + ttlMs });
  }
  return value;
}

/**
 * Marks `topic` changed after a committed write: clears this process's
 * cache now and every other process's through the epoch key.
 */
export async function touch(kv: Deno.Kv, topic: Topic): Promise<void> {
  clear(stores.get(kv), topic);
  await kv.atomic().sum(epochKey(topic), 1n).commit();
  clear(stores.get(kv), topic);
}
