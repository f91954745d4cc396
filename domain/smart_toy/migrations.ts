import type { Migration } from "../store/kv.ts";
import { migrateToSchema2, migrateToSchema4 } from "./messages.ts";

/**
 * The store's schema steps, in order, for `migrate(kv, SCHEMA_MIGRATIONS)`
 * (domain/store/kv.ts runs them; the store itself knows no collection).
 * Version 1 is the empty store's layout. No keys of its own: each step is
 * written by the module that owns the keys it moves.
 */
export const SCHEMA_MIGRATIONS: readonly Migration[] = [
  { version: 1, run: async () => {} },
  // One copy per message beside its unread counter (messages.ts).
  { version: 2, run: (kv) => migrateToSchema2(kv) },
  // Schema 3 built a per-recipient position log; schema 4 drops it, so
  // a store still at 2 skips building it.
  { version: 3, run: async () => {} },
  // Each pair's newest-position mark and sender entry, for catch-ups; the
  // position log deleted (messages.ts).
  { version: 4, run: (kv) => migrateToSchema4(kv) },
];
