import type { Migration } from "../store/kv.ts";
import { migrateToSchema2, migrateToSchema3 } from "./messages.ts";

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
  // Each recipient's position log, for catch-ups (messages.ts).
  { version: 3, run: (kv) => migrateToSchema3(kv) },
];
