import { newId } from "../store/ids.ts";
import { ringDelivery } from "./messages.ts";

/**
 * Ephemeral signals (a music push, a chat notice, typing) for a principal
 * whose sockets are on another instance: logged briefly in KV and announced
 * on the recipient's delivery key. Never replayed after they expire.
 *
 * | key                             | value          |
 * | ------------------------------- | -------------- |
 * | ["signal_log", principalId, id] | Signal (30 s)  |
 */

/** One logged signal. */
export interface Signal {
  id: string;
  /** When it was sent (ms since the epoch). */
  at: number;
  frame: Record<string, unknown>;
}

/** How long a logged signal may still be delivered. */
export const SIGNAL_TTL_MS = 30_000;

/** Signals read per check: more than a socket could use in the TTL. */
const SIGNAL_PAGE = 200;

/**
 * Logs `frame` for `to` and rings its delivery key, in one commit; the
 * instance holding `to`'s sockets reads it with `recentSignals`.
 */
export async function logSignal(
  kv: Deno.Kv,
  to: string,
  frame: Record<string, unknown>,
): Promise<void> {
  const signal: Signal = { id: newId(), at: Date.now(), frame };
  await ringDelivery(
    kv.atomic().set(["signal_log", to, signal.id], signal, {
      expireIn: SIGNAL_TTL_MS,
    }),
    to,
  ).commit();
}

/** The signals logged for `principalId` within the TTL, oldest first. */
export async function recentSignals(
  kv: Deno.Kv,
  principalId: string,
  now: number = Date.now(),
): Promise<Signal[]> {
  const out: Signal[] = [];
  const iter = kv.list<Signal>(
    { prefix: ["signal_log", principalId] },
    { limit: SIGNAL_PAGE },
  );
  for await (const e of iter) {
    if (e.value.at >= now - SIGNAL_TTL_MS) out.push(e.value);
  }
  return out;
}
