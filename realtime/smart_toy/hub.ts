import type { Logger } from "../../domain/platform/log.ts";
import type { Metrics } from "../../domain/platform/metrics.ts";
import {
  advanceDelivered,
  bellKey,
  deliveryKey,
  type Message,
  readInbox,
  shardOf,
} from "../../domain/smart_toy/messages.ts";
import {
  logSignal,
  recentSignals,
  SIGNAL_TTL_MS,
} from "../../domain/smart_toy/signals.ts";
import type { Peer } from "../ws.ts";

/**
 * This instance's connection registry and delivery loop.
 *
 * Every principal's delivery key (domain/smart_toy/messages.ts) is bumped with `sum`
 * by each durable message and each cross-instance signal sent to it, and so
 * is the bell of the principal's shard (1,024 shards). The hub watches the
 * bells of the shards that hold a principal with a socket here, ten bells to
 * a `kv.watch`: a fixed, small number of watches however many sockets are
 * open. When a bell's versionstamp moves (watch may coalesce several
 * changes), the hub reads the delivery keys of its local principals in that
 * shard, and each principal whose key moved gets, on each of its sockets,
 * everything in its inbox after the socket's cursor, and any new signals.
 *
 * Ephemeral signals (a music push, a chat notice): sent straight to local
 * sockets; when the recipient has none here, logged briefly in KV and
 * announced on its delivery key (domain/smart_toy/signals.ts). Never
 * replayed.
 */

/** One authenticated socket of a principal. */
export interface Connection {
  principalId: string;
  peer: Peer;
  /** Last inbox position sent to this socket. */
  cursor: number;
  /** When it connected: older signals are not for it. */
  since: number;
  /** Re-checks the socket's credentials (after a logout or unbind). */
  stillValid?: () => Promise<boolean>;
}

interface Watched {
  conns: Set<Connection>;
  shard: number;
  /** The delivery key's versionstamp when last checked (undefined: never). */
  stamp?: string | null;
  delivering: boolean;
  dirty: boolean;
  /** Signals already sent, by id (created on first use). */
  seenSignals: Map<string, number> | null;
}

/** Up to ten bell shards that share one `kv.watch`. */
interface WatchGroup {
  shards: Set<number>;
  /** The last versionstamp seen per shard's bell. */
  stamps: Map<number, string | null>;
  stop: () => void;
  restartTimer: ReturnType<typeof setTimeout> | null;
}

const KEYS_PER_WATCH = 10;
/** Close code for a socket whose token was revoked or toy unbound. */
const CLOSE_SESSION_ENDED = 4001;
const RESTART_DELAY_MS = 25;

/** Messages read per inbox page while catching a socket up. */
const DELIVERY_PAGE = 100;

/** A durable message as its recipient's socket receives it. */
function chatEvent(m: Message): Record<string, unknown> {
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
  /** Local principals by bell shard, and the watch group of each shard. */
  #shards = new Map<number, { principals: Set<string>; group: WatchGroup }>();
  #groups = new Set<WatchGroup>();
  #open: WatchGroup | null = null;
  #localSignals: string;
  #kvSignals: string;
  #closed = false;
  #running = new Set<Promise<unknown>>();

  constructor(kv: Deno.Kv, log: Logger, metrics: Metrics) {
    this.#kv = kv;
    this.#log = log;
    this.#metrics = metrics;
    metrics.gauge("babble_sockets", () => this.socketCount());
    this.#localSignals = metrics.series("babble_signals_total", {
      path: "local",
    });
    this.#kvSignals = metrics.series("babble_signals_total", { path: "kv" });
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
      const shard = shardOf(conn.principalId);
      w = {
        conns: new Set(),
        shard,
        delivering: false,
        dirty: false,
        seenSignals: null,
      };
      this.#watched.set(conn.principalId, w);
      let local = this.#shards.get(shard);
      if (!local) {
        local = { principals: new Set(), group: this.#groupFor(shard) };
        this.#shards.set(shard, local);
      }
      local.principals.add(conn.principalId);
    }
    w.conns.add(conn);
    this.#deliver(conn.principalId);
  }

  /** Unregisters a socket (idempotent); the last one of a principal leaves its shard. */
  detach(conn: Connection): void {
    const w = this.#watched.get(conn.principalId);
    if (!w || !w.conns.delete(conn)) return;
    if (w.conns.size > 0) return;
    this.#watched.delete(conn.principalId);
    const local = this.#shards.get(w.shard);
    if (!local) return;
    local.principals.delete(conn.principalId);
    if (local.principals.size > 0) return;
    this.#shards.delete(w.shard);
    const group = local.group;
    group.shards.delete(w.shard);
    group.stamps.delete(w.shard);
    if (group.shards.size === 0) this.#stopGroup(group);
    else this.#scheduleRestart(group);
  }

  #stopGroup(group: WatchGroup): void {
    if (group.restartTimer !== null) clearTimeout(group.restartTimer);
    group.restartTimer = null;
    group.stop();
    this.#groups.delete(group);
    if (this.#open === group) this.#open = null;
  }

  /** A watch group with room for one more shard (a new one if none has). */
  #groupFor(shard: number): WatchGroup {
    let group = this.#open;
    if (!group || group.shards.size >= KEYS_PER_WATCH) {
      // Refill a group others left before starting a new watch.
      group = [...this.#groups].find((g) => g.shards.size < KEYS_PER_WATCH) ??
        {
          shards: new Set(),
          stamps: new Map(),
          stop: () => {},
          restartTimer: null,
        };
      this.#groups.add(group);
      this.#open = group;
    }
    group.shards.add(shard);
    this.#scheduleRestart(group);
    return group;
  }

  /**
   * Re-creates a group's watch with its current keys, at most once per
   * RESTART_DELAY_MS: a burst of connections re-creates it once, not ten
   * times. Nothing is missed meanwhile: a new socket's replay does not wait
   * for the watch, and the new watch's first values are compared with the
   * last versionstamps seen.
   */
  #scheduleRestart(group: WatchGroup): void {
    if (group.restartTimer !== null || this.#closed) return;
    group.restartTimer = setTimeout(() => {
      group.restartTimer = null;
      group.stop();
      if (this.#closed || group.shards.size === 0) return;
      this.#watch(group);
    }, RESTART_DELAY_MS);
  }

  /**
   * Sends an ephemeral frame to `to`: at once to its sockets here (returns
   * undefined), else through KV to whichever instance holds them (returns
   * the commit). Not stored for later.
   */
  signal(
    to: string,
    frame: Record<string, unknown>,
  ): Promise<void> | undefined {
    if (this.signalLocal(to, frame)) return undefined;
    return this.signalThroughKv(to, frame);
  }

  /**
   * Sends an ephemeral frame to `to`'s sockets on this instance; false
   * when it has none here (nothing sent). One lookup: the relay's hot path.
   */
  signalLocal(to: string, frame: Record<string, unknown>): boolean {
    const w = this.#watched.get(to);
    if (!w || w.conns.size === 0) return false;
    // A Set may lose members while it is iterated (#send detaches a
    // socket that closed): no copy per frame.
    for (const conn of w.conns) this.#send(conn, frame);
    this.#metrics.incSeries(this.#localSignals);
    return true;
  }

  /**
   * Sends an ephemeral frame to `to` through KV, for whichever instance
   * holds its sockets (after `signalLocal` found none here).
   */
  async signalThroughKv(
    to: string,
    frame: Record<string, unknown>,
  ): Promise<void> {
    await logSignal(this.#kv, to, frame);
    this.#metrics.incSeries(this.#kvSignals);
  }

  #watch(group: WatchGroup): void {
    const shards = [...group.shards];
    const reader = this.#kv.watch(shards.map(bellKey)).getReader();
    let stopped = false;
    group.stop = () => {
      stopped = true;
      reader.cancel().catch(() => {});
    };
    const loop = async () => {
      while (!stopped) {
        const { value, done } = await reader.read();
        if (done || !value || stopped) return;
        value.forEach((entry, i) => {
          const shard = shards[i];
          if (!group.shards.has(shard)) return;
          // Compare with the last stamp seen, not the watch's previous value:
          // a ring while the watch was being re-created still counts.
          if (
            group.stamps.has(shard) &&
            group.stamps.get(shard) === entry.versionstamp
          ) return;
          group.stamps.set(shard, entry.versionstamp);
          this.#track(this.#checkShard(shard));
        });
      }
    };
    this.#track(
      loop().catch((err) => {
        if (!stopped) this.#log.warn("watch ended", { error: String(err) });
      }),
    );
  }

  /** Delivers to every local principal of `shard` whose delivery key moved. */
  async #checkShard(shard: number): Promise<void> {
    const principals = [...(this.#shards.get(shard)?.principals ?? [])];
    for (let i = 0; i < principals.length; i += 10) {
      const batch = principals.slice(i, i + 10);
      const entries = await this.#kv.getMany(batch.map(deliveryKey)).catch(
        (err) => {
          this.#log.warn("delivery check failed", { error: String(err) });
          return [];
        },
      );
      entries.forEach((entry, j) => {
        const w = this.#watched.get(batch[j]);
        if (!w || w.stamp === entry.versionstamp) return;
        w.stamp = entry.versionstamp;
        this.#deliver(batch[j]);
      });
    }
  }

  async #readSignals(principalId: string, w: Watched): Promise<void> {
    const now = Date.now();
    if (w.seenSignals) {
      for (const [id, at] of w.seenSignals) {
        if (at < now - 2 * SIGNAL_TTL_MS) w.seenSignals.delete(id);
      }
    }
    for (const s of await recentSignals(this.#kv, principalId, now)) {
      const seen = w.seenSignals ??= new Map();
      if (seen.has(s.id)) continue;
      seen.set(s.id, s.at);
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
          if (conn.stillValid && !(await conn.stillValid())) {
            conn.peer.close(
              CLOSE_SESSION_ENDED,
              "session ended: sign in again",
            );
            this.detach(conn);
            continue;
          }
          for (;;) {
            const batch = await readInbox(
              this.#kv,
              principalId,
              conn.cursor,
              DELIVERY_PAGE,
            );
            if (!batch.length) break;
            const now = Date.now();
            for (const m of batch) {
              if (!this.#send(conn, chatEvent(m))) break;
              conn.cursor = m.seq;
              // Commit to socket write (a replay counts its time offline).
              this.#metrics.observe(
                "babble_delivery_seconds",
                {},
                Math.max(0, now / 1000 - m.create_time),
              );
            }
            if (!conn.peer.open) break;
            this.#metrics.inc(
              "babble_messages_delivered_total",
              {},
              batch.length,
            );
            // A short page was everything up to the store head; a message
            // committed since rings again (w.dirty).
            if (batch.length < DELIVERY_PAGE) break;
          }
          sentUpTo = Math.max(sentUpTo, conn.cursor);
        }
        if (sentUpTo) await advanceDelivered(this.#kv, principalId, sentUpTo);
        await this.#readSignals(principalId, w);
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
    for (const group of [...this.#groups]) this.#stopGroup(group);
    this.#shards.clear();
    for (const w of this.#watched.values()) {
      for (const conn of w.conns) {
        conn.peer.close(1001, "server is shutting down");
      }
    }
    this.#watched.clear();
    while (this.#running.size) await Promise.allSettled([...this.#running]);
  }
}
