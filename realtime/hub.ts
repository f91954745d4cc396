import type { Logger } from "../domain/log.ts";
import type { Metrics } from "../domain/metrics.ts";
import { newId } from "../domain/ids.ts";
import {
  advanceDelivered,
  type Message,
  readInbox,
} from "../domain/messages.ts";
import type { Peer } from "./ws.ts";

/**
 * This instance's connection registry and delivery loop.
 *
 * Durable messages: for every principal with a socket here, one `kv.watch`
 * on its delivery key; on each change (watch may coalesce several), every
 * socket gets everything in the inbox after its own cursor.
 *
 * Ephemeral signals (a music push, a chat notice): sent straight to local
 * sockets; when the recipient has none here, written to a short-lived
 * signal log in KV that the recipient's instance watches. Never replayed.
 *
 * | key                         | value                          |
 * | --------------------------- | ------------------------------ |
 * | ["signals", principalId]    | id of the latest signal (30 s) |
 * | ["signal_log", principalId, id] | Signal (30 s)              |
 */

/** One authenticated socket of a principal. */
export interface Connection {
  principalId: string;
  peer: Peer;
  /** Last inbox position sent to this socket. */
  cursor: number;
  /** When it connected: older signals are not for it. */
  since: number;
}

interface Signal {
  id: string;
  at: number;
  frame: Record<string, unknown>;
}

interface Watched {
  conns: Set<Connection>;
  stop: () => void;
  delivering: boolean;
  dirty: boolean;
  seenSignals: Map<string, number>;
}

const SIGNAL_TTL_MS = 30_000;

/** A durable message as its recipient's socket receives it. */
export function chatEvent(m: Message): Record<string, unknown> {
  return {
    type: "chat",
    id: m._id,
    seq: m.seq,
    from_user: m.from_user,
    to_user: m.to_user,
    chat: m.chat,
    friend_type: m.friend_type,
    chat_id: m.chat_id,
    create_time: m.create_time,
  };
}

/** The per-instance hub; `close()` stops every watch. */
export class Hub {
  #kv: Deno.Kv;
  #log: Logger;
  #metrics: Metrics;
  #watched = new Map<string, Watched>();
  #closed = false;
  #running = new Set<Promise<unknown>>();

  constructor(kv: Deno.Kv, log: Logger, metrics: Metrics) {
    this.#kv = kv;
    this.#log = log;
    this.#metrics = metrics;
    metrics.gauge("babble_sockets", () => this.socketCount());
  }

  /** Sockets connected to this instance. */
  socketCount(): number {
    let n = 0;
    for (const w of this.#watched.values()) n += w.conns.size;
    return n;
  }

  /** True when `principalId` has a socket on this instance. */
  isLocal(principalId: string): boolean {
    return (this.#watched.get(principalId)?.conns.size ?? 0) > 0;
  }

  /** Registers a socket and replays what it missed (after its cursor). */
  attach(conn: Connection): void {
    if (this.#closed) {
      conn.peer.close(1001, "server is shutting down");
      return;
    }
    let w = this.#watched.get(conn.principalId);
    if (!w) {
      w = {
        conns: new Set(),
        stop: () => {},
        delivering: false,
        dirty: false,
        seenSignals: new Map(),
      };
      this.#watched.set(conn.principalId, w);
      this.#watch(conn.principalId, w);
    }
    w.conns.add(conn);
    this.#deliver(conn.principalId);
  }

  /** Unregisters a socket (idempotent); the last one of a principal stops its watch. */
  detach(conn: Connection): void {
    const w = this.#watched.get(conn.principalId);
    if (!w || !w.conns.delete(conn)) return;
    if (w.conns.size === 0) {
      w.stop();
      this.#watched.delete(conn.principalId);
    }
  }

  /**
   * Sends an ephemeral frame to `to`: at once to its sockets here, else
   * through KV to whichever instance holds them. Not stored for later.
   */
  async signal(to: string, frame: Record<string, unknown>): Promise<void> {
    const w = this.#watched.get(to);
    if (w && w.conns.size) {
      for (const conn of [...w.conns]) this.#send(conn, frame);
      this.#metrics.inc("babble_signals_total", { path: "local" });
      return;
    }
    const signal: Signal = { id: newId(), at: Date.now(), frame };
    await this.#kv.atomic()
      .set(["signal_log", to, signal.id], signal, { expireIn: SIGNAL_TTL_MS })
      .set(["signals", to], signal.id, { expireIn: SIGNAL_TTL_MS })
      .commit();
    this.#metrics.inc("babble_signals_total", { path: "kv" });
  }

  #watch(principalId: string, w: Watched): void {
    const stream = this.#kv.watch([["delivery", principalId], [
      "signals",
      principalId,
    ]]);
    const reader = stream.getReader();
    let stopped = false;
    w.stop = () => {
      stopped = true;
      reader.cancel().catch(() => {});
    };
    const loop = async () => {
      let lastDelivery: string | null = null;
      let lastSignal: string | null = null;
      while (!stopped) {
        const { value, done } = await reader.read();
        if (done || !value) return;
        const [delivery, signal] = value;
        if (delivery.versionstamp !== lastDelivery) {
          lastDelivery = delivery.versionstamp;
          this.#deliver(principalId);
        }
        // The first value too: a signal sent while the watch was starting
        // is in it. Older ones are filtered out by time in #readSignals.
        if (signal.versionstamp !== lastSignal) {
          lastSignal = signal.versionstamp;
          if (signal.versionstamp !== null) {
            await this.#readSignals(principalId, w);
          }
        }
      }
    };
    this.#track(
      loop().catch((err) => {
        if (!stopped) {
          this.#log.warn("watch ended", { principalId, error: String(err) });
        }
      }),
    );
  }

  async #readSignals(principalId: string, w: Watched): Promise<void> {
    const now = Date.now();
    for (const [id, at] of w.seenSignals) {
      if (at < now - 2 * SIGNAL_TTL_MS) w.seenSignals.delete(id);
    }
    for await (
      const e of this.#kv.list<Signal>({ prefix: ["signal_log", principalId] })
    ) {
      const s = e.value;
      if (w.seenSignals.has(s.id) || s.at < now - SIGNAL_TTL_MS) continue;
      w.seenSignals.set(s.id, s.at);
      for (const conn of [...w.conns]) {
        if (s.at >= conn.since - 1000) this.#send(conn, s.frame);
      }
    }
  }

  /** Sends each socket of `principalId` everything after its cursor; runs once at a time. */
  #deliver(principalId: string): void {
    const w = this.#watched.get(principalId);
    if (!w) return;
    if (w.delivering) {
      w.dirty = true;
      return;
    }
    w.delivering = true;
    const run = async () => {
      do {
        w.dirty = false;
        let sentUpTo = 0;
        for (const conn of [...w.conns]) {
          for (;;) {
            const batch = await readInbox(
              this.#kv,
              principalId,
              conn.cursor,
              100,
            );
            if (!batch.length) break;
            for (const m of batch) {
              if (!this.#send(conn, chatEvent(m))) break;
              conn.cursor = m.seq;
            }
            if (!conn.peer.open) break;
            this.#metrics.inc(
              "babble_messages_delivered_total",
              {},
              batch.length,
            );
          }
          sentUpTo = Math.max(sentUpTo, conn.cursor);
        }
        if (sentUpTo) await advanceDelivered(this.#kv, principalId, sentUpTo);
      } while (w.dirty && this.#watched.get(principalId) === w);
    };
    this.#track(
      run().catch((err) =>
        this.#log.warn("delivery failed", { principalId, error: String(err) })
      )
        .finally(() => {
          w.delivering = false;
        }),
    );
  }

  /**
   * Sends one frame to a socket. A socket the peer closed (its send queue
   * overflowed) leaves the registry at once: a client that never reads
   * never answers the close frame, so its `close` event may never come.
   */
  #send(conn: Connection, frame: Record<string, unknown>): boolean {
    if (conn.peer.send(frame)) return true;
    if (!conn.peer.open) this.detach(conn);
    return false;
  }

  #track(p: Promise<unknown>): void {
    this.#running.add(p);
    p.finally(() => this.#running.delete(p));
  }

  /** Stops every watch, closes every socket, and waits for deliveries under way. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const w of this.#watched.values()) {
      w.stop();
      for (const conn of w.conns) {
        conn.peer.close(1001, "server is shutting down");
      }
    }
    this.#watched.clear();
    while (this.#running.size) await Promise.allSettled([...this.#running]);
  }
}
