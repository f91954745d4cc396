import { DatabaseSync } from "node:sqlite";

/**
 * Opening the store, migrating its schema forward, and the store-wide
 * markers of one-time jobs.
 *
 * | key                          | value                                   |
 * | ---------------------------- | --------------------------------------- |
 * | ["meta", "schema"]           | number: the schema version              |
 * | ["meta", "migration_lease"]  | Lease: who is migrating (expires)       |
 * | ["meta", name]               | number: a job's marker (`setMarker`)    |
 */

const SCHEMA_KEY = ["meta", "schema"] as const;

/** One forward step: brings a store at `version - 1` to `version`. */
export interface Migration {
  version: number;
  run(kv: Deno.Kv): Promise<void>;
}

const shared = new Map<string, { kv: Deno.Kv; refs: number }>();

/**
 * Opens the KV store at `path`: a file path (its folder is created),
 * ":memory:", or an https:// KV Connect URL. Within one process a file is
 * opened once and the handle shared (two SQLite handles on one file fail
 * each other's writes with "database is locked"); release it with `closeKv`.
 */
export async function openKv(path: string): Promise<Deno.Kv> {
  if (path === ":memory:" || /^https?:\/\//.test(path)) {
    return await Deno.openKv(path);
  }
  const slash = path.lastIndexOf("/");
  if (slash > 0) await Deno.mkdir(path.slice(0, slash), { recursive: true });
  const file = await Deno.realPath(path.slice(0, Math.max(slash, 0)) || ".") +
    "/" + path.slice(slash + 1);
  const open = shared.get(file);
  if (open) {
    open.refs++;
    return open.kv;
  }
  const kv = await Deno.openKv(file);
  try {
    narrowExpiryIndex(file);
  } catch (err) {
    // Only speed is at stake: the store works the same with the index as
    // shipped.
    console.warn(`babble: kept the KV expiry index as it was: ${err}`);
  }
  shared.set(file, { kv, refs: 1 });
  return kv;
}

/** The expiry index as Deno KV's SQLite backend (schema 3) creates it. */
const SHIPPED_EXPIRY_INDEX =
  "CREATE INDEX kv_expiration_ms_idx on kv (expiration_ms)";
/** The same index over only the keys that expire. */
const NARROW_EXPIRY_INDEX =
  "CREATE INDEX kv_expiration_ms_idx on kv (expiration_ms) WHERE expiration_ms >= 0";

/**
 * Makes Deno KV's expiry index partial on a local store file; returns
 * true when it changed it.
 *
 * The SQLite backend indexes `expiration_ms` of every row, though only
 * rows that expire (`expiration_ms >= 0`) are ever looked up through it:
 * every write to a key that never expires also writes the index, a second
 * random page per key. The backend's two expiry queries both say
 * `expiration_ms >= 0`, so SQLite uses the partial index for them just the
 * same (tests/domain/store/kv_test.ts checks the query plans). The
 * storage under durable messages holds about 1.6x the rate with it
 * (`deno task bench durable`, "storage alone").
 *
 * Changed only when the file holds exactly the schema this was written
 * against (backend schema 3 and the shipped index); anything else is left
 * alone. Same name, one transaction: a backend that drops and recreates
 * the index by name still can.
 */
export function narrowExpiryIndex(file: string): boolean {
  const db = new DatabaseSync(file, { timeout: 5_000 });
  try {
    // Checked under the write lock: two instances starting together change
    // it once.
    db.exec("begin immediate");
    const backend = db.prepare(
      "select version from migration_state where k = 0",
    ).get() as { version: number } | undefined;
    const index = db.prepare(
      "select sql from sqlite_master where type = 'index' and name = 'kv_expiration_ms_idx'",
    ).get() as { sql: string } | undefined;
    if (backend?.version !== 3 || index?.sql !== SHIPPED_EXPIRY_INDEX) {
      db.exec("rollback");
      return false;
    }
    try {
      db.exec(`drop index kv_expiration_ms_idx; ${NARROW_EXPIRY_INDEX}`);
      db.exec("commit");
    } catch (err) {
      db.exec("rollback");
      throw err;
    }
    return true;
  } finally {
    db.close();
  }
}

/** Releases a handle from `openKv`; the last release closes it. */
export function closeKv(kv: Deno.Kv): void {
  for (const [file, open] of shared) {
    if (open.kv !== kv) continue;
    if (--open.refs === 0) {
      shared.delete(file);
      kv.close();
    }
    return;
  }
  kv.close();
}

const LEASE_KEY = ["meta", "migration_lease"] as const;
/** How long a migration lease lasts; the holder renews it between steps. */
const LEASE_MS = 10 * 60 * 1000;

interface Lease {
  owner: string;
  expiresAt: number;
}

/**
 * Runs every migration above the stored version. Instances starting
 * together take turns through a lease (check-and-set, with an expiry in
 * case the holder dies): one migrates, the others wait for the schema to
 * move. Refuses a store written by a newer Babble.
 */
export async function migrate(
  kv: Deno.Kv,
  migrations: readonly Migration[],
  { pollMs = 200 }: { pollMs?: number } = {},
): Promise<number> {
  const target = migrations.at(-1)?.version ?? 0;
  const me = crypto.randomUUID();
  try {
    for (;;) {
      const current = await kv.get<number>(SCHEMA_KEY);
      const version = current.value ?? 0;
      if (version > target) {
        throw new Error(
          `store schema is version ${version}, newer than this build's ${target}: upgrade Babble`,
        );
      }
      const next = migrations.find((m) => m.version === version + 1);
      if (!next) return version;
      const lease = await kv.get<Lease>(LEASE_KEY);
      const held = lease.value && lease.value.expiresAt > Date.now() &&
        lease.value.owner !== me;
      if (held) {
        await new Promise((r) => setTimeout(r, pollMs));
        continue;
      }
      const taken = await kv.atomic().check(lease).set(
        LEASE_KEY,
        { owner: me, expiresAt: Date.now() + LEASE_MS },
        { expireIn: LEASE_MS },
      ).commit();
      if (!taken.ok) continue;
      // Under the lease: re-read, since the previous holder may have just
      // finished this step.
      const now = await kv.get<number>(SCHEMA_KEY);
      if ((now.value ?? 0) !== version) continue;
      await next.run(kv);
      await kv.atomic().check(now).set(SCHEMA_KEY, next.version).commit();
    }
  } finally {
    const lease = await kv.get<Lease>(LEASE_KEY);
    if (lease.value?.owner === me) {
      await kv.atomic().check(lease).delete(LEASE_KEY).commit();
    }
  }
}

/** Deletes keys in atomic batches well under the mutation limit. */
export async function deleteKeys(
  kv: Deno.Kv,
  keys: Deno.KvKey[],
): Promise<void> {
  for (let i = 0; i < keys.length; i += 500) {
    const op = kv.atomic();
    for (const key of keys.slice(i, i + 500)) op.delete(key);
    await op.commit();
  }
}

/** A store-wide marker of a one-time job (seeding built-in content, say). */
export function getMarker(
  kv: Deno.Kv,
  name: string,
): Promise<Deno.KvEntryMaybe<number>> {
  return kv.get<number>(["meta", name]);
}

/**
 * Sets marker `name` to `value` if it is unchanged since `seen` was read
 * (from `getMarker`); false when another writer moved it first.
 */
export async function setMarker(
  kv: Deno.Kv,
  seen: Deno.KvEntryMaybe<number>,
  value: number,
): Promise<boolean> {
  const res = await kv.atomic().check(seen).set(seen.key, value).commit();
  return res.ok;
}
