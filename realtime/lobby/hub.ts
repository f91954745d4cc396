import { AppError, asAppError } from "../../domain/platform/errors.ts";
import {
  accepted,
  INVALID_JSON,
  lobbyErrorReply,
  lobbyFailure,
  loginReply,
  REGISTERED,
  registrationRefused,
  type TokenRefusal,
  tokenRefused,
  USERNAME_TAKEN,
} from "../../domain/lobby/envelope.ts";
import { randomHex } from "../../domain/store/ids.ts";
import {
  authenticateLobbyUser,
  AVATAR_RULE_MESSAGE,
  avatarUrl,
  claimPresence,
  issueLobbyToken,
  listLobbyEvents,
  livePresence,
  LOBBY_HEAD_KEY,
  type LobbyEvent,
  lobbyHead,
  parseChat,
  parseLogin,
  parseRegistration,
  postLobbyChat,
  type Presence,
  refreshPresence,
  registerLobbyUser,
  releasePresence,
  takeChatLine,
  takeLoginAttempt,
  takeRegistration,
  TOKEN_TTL_MS,
  useLobbyToken,
} from "../../domain/lobby/lobby.ts";
import type { Logger } from "../../domain/platform/log.ts";
import type { Metrics } from "../../domain/platform/metrics.ts";
import type { RateLimiter } from "../../domain/platform/rate_limit.ts";

/**
 * The lobby's connection registry and socket protocol (seed 003), shared
 * by the WebSocket and the raw TCP transport.
 *
 * Each connection's messages are handled one at a time, in order. Chat
 * lines are committed to the KV event log; every instance watches the log's
 * head and fans new lines out to its logged-in connections, so a line sent
 * on one instance reaches sockets on all of them. A logged-in connection
 * holds its user's presence in KV (one active connection per user, across
 * instances), refreshed while the connection is active and released when
 * it closes. Connections idle for `idleMs` are closed.
 */

/** A transport's side of one connection: bounded JSON sending, closing. */
export interface LobbyPeer {
  /** Sends one JSON object; false when the peer is closed or overflowing. */
  send(frame: unknown): boolean;
  /** Closes the connection; safe to call more than once. */
  close(reason?: string): void;
}

/** One lobby connection, WebSocket or TCP. */
export class LobbyConnection {
  readonly id: string = randomHex(12);
  readonly peer: LobbyPeer;
  readonly address: string;
  /** The user logged in on this connection, or null. */
  user: string | null = null;
  lastActive: number = Date.now();
  /** Versionstamp of the presence this connection holds. */
  presenceStamp: string | null = null;
  presenceWrittenAt = 0;
  detached = false;
  /** Messages waiting to be handled (bounded by `maxQueuedMessages`). */
  queued = 0;
  queue: Promise<void> = Promise.resolve();
  /** Presence writes, in order. */
  presenceOps: Promise<void> = Promise.resolve();

  constructor(peer: LobbyPeer, address: string) {
    this.peer = peer;
    this.address = address;
  }
}

/** What the hub needs from the server. */
export interface LobbyHubDeps {
  kv: Deno.Kv;
  log: Logger;
  metrics: Metrics;
  limiter: RateLimiter;
}

/** Options of `LobbyHub`. */
export interface LobbyHubOptions {
  /** Close connections without activity this long (seed: 5 min). */
  idleMs?: number;
  /** Token lifetime after last use (seed: 1 h). */
  tokenTtlMs?: number;
  /** Connections this instance accepts at most. */
  maxConnections?: number;
  /** Messages of one connection waiting to be handled before it is closed. */
  maxQueuedMessages?: number;
}

const PING = { type: "ping" };

/** The lobby hub of one server instance. */
export class LobbyHub {
  readonly instanceId: string = randomHex(8);
  readonly idleMs: number;
  readonly tokenTtlMs: number;
  readonly #deps: LobbyHubDeps;
  readonly #maxConnections: number;
  readonly #maxQueued: number;
  readonly #connections = new Map<string, LobbyConnection>();
  #closed = false;
  #sweepTimer: ReturnType<typeof setInterval> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #retryWake: (() => void) | undefined;
  #watchReader:
    | ReadableStreamDefaultReader<Deno.KvEntryMaybe<unknown>[]>
    | null = null;
  #watchLoop: Promise<void> | null = null;

  constructor(
    deps: LobbyHubDeps,
    {
      idleMs = 300_000,
      tokenTtlMs = TOKEN_TTL_MS,
      maxConnections = 10_000,
      maxQueuedMessages = 64,
    }: LobbyHubOptions = {},
  ) {
    this.#deps = deps;
    this.idleMs = idleMs;
    this.tokenTtlMs = tokenTtlMs;
    this.#maxConnections = maxConnections;
    this.#maxQueued = maxQueuedMessages;
    deps.metrics.gauge(
      "babble_lobby_connections",
      () => this.#connections.size,
    );
  }

  /** How often presence is rewritten while a connection is active. */
  get #refreshMs(): number {
    return Math.max(50, Math.floor(this.idleMs / 4));
  }

  /** A presence lives through one refresh interval past the idle limit. */
  get #presenceTtlMs(): number {
    return this.idleMs + this.#refreshMs;
  }

  /** Starts the event-log watch and the idle sweep. */
  start(): void {
    const every = Math.min(60_000, Math.max(100, Math.floor(this.idleMs / 5)));
    this.#sweepTimer = setInterval(() => this.#sweep(), every);
    this.#watchLoop = this.#watch();
  }

  /** Open connections on this instance. */
  get size(): number {
    return this.#connections.size;
  }

  /** Registers a new connection; null (and the peer closed) when the hub is full or closed. */
  attach(peer: LobbyPeer, address: string): LobbyConnection | null {
    if (this.#closed || this.#connections.size >= this.#maxConnections) {
      peer.close("the lobby is full: try again later");
      return null;
    }
    const conn = new LobbyConnection(peer, address);
    this.#connections.set(conn.id, conn);
    return conn;
  }

  /**
   * Queues one text frame of `conn` for handling after those before it.
   * A connection with more than `maxQueuedMessages` waiting is closed.
   */
  enqueue(conn: LobbyConnection, text: string): void {
    if (conn.queued >= this.#maxQueued) {
      this.#drop(conn, "too many messages waiting: slow down");
      return;
    }
    conn.queued++;
    conn.queue = conn.queue
      .then(() => this.receive(conn, text))
      .finally(() => conn.queued--);
  }

  /** Handles one text frame of `conn` (a JSON object); replies on `conn`. Never throws. */
  async receive(conn: LobbyConnection, text: string): Promise<void> {
    if (conn.detached) return;
    this.touch(conn);
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      conn.peer.send(INVALID_JSON);
      return;
    }
    if (
      message === null || typeof message !== "object" || Array.isArray(message)
    ) {
      conn.peer.send(
        lobbyErrorReply('a message must be a JSON object with a "type"'),
      );
      return;
    }
    const type = (message as { type?: unknown }).type;
    try {
      switch (type) {
        case "register":
          return await this.#register(conn, message);
        case "login":
          return await this.#login(conn, message);
        case "chat":
          return await this.#chat(conn, message);
        case "heartbeat":
          return await this.#heartbeat(conn, message);
        case "pong":
          return;
        default:
          conn.peer.send(lobbyErrorReply(
            `unknown type ${
              JSON.stringify(type ?? null)?.slice(0, 40)
            }: expected "register", "login", "chat" or "heartbeat"`,
          ));
      }
    } catch (err) {
      conn.peer.send(this.#failure(String(type), err));
    }
  }

  /** Counts activity on `conn`: it stays open, and its presence stays live. */
  touch(conn: LobbyConnection): void {
    const now = Date.now();
    conn.lastActive = now;
    if (
      conn.user !== null && conn.presenceStamp !== null &&
      now - conn.presenceWrittenAt >= this.#refreshMs
    ) {
      conn.presenceWrittenAt = now;
      this.#presenceOp(conn, () => this.#refresh(conn)).catch(() => {});
    }
  }

  /** Forgets a closed connection and releases its presence; idempotent. */
  async detach(conn: LobbyConnection): Promise<void> {
    if (!conn.detached) {
      conn.detached = true;
      this.#connections.delete(conn.id);
      this.#presenceOp(conn, () => this.#release(conn)).catch(() => {});
    }
    await conn.presenceOps;
  }

  /**
   * True while `username` holds a live connection. A holder on this
   * instance is pinged (`{"type":"ping"}`); one that no longer takes
   * writes is dropped and does not count.
   */
  async isOnline(username: string): Promise<boolean> {
    const holder = await livePresence(this.#deps.kv, username);
    if (!holder) return false;
    if (holder.instance !== this.instanceId) return true;
    return this.#holderAlive(holder);
  }

  /** Stops watching, closes every connection and releases their presence. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweepTimer);
    clearTimeout(this.#retryTimer);
    this.#retryWake?.();
    await this.#watchReader?.cancel().catch(() => {});
    await this.#watchLoop;
    const open = [...this.#connections.values()];
    for (const conn of open) conn.peer.close("the server is shutting down");
    await Promise.all(open.map((conn) => this.detach(conn)));
  }

  async #register(conn: LobbyConnection, message: object): Promise<void> {
    const parsed = parseRegistration(message);
    if (!parsed.ok) {
      conn.peer.send(
        parsed.field === "username" || parsed.field === "avatar"
          ? registrationRefused(
            parsed.field,
            parsed.field === "username"
              ? "Invalid username format"
              : AVATAR_RULE_MESSAGE,
            "socket",
          )
          : lobbyFailure("register", new AppError(400, parsed.message)),
      );
      return;
    }
    takeRegistration(this.#deps.limiter, conn.address);
    try {
      await registerLobbyUser(this.#deps.kv, parsed.value);
    } catch (err) {
      if (err instanceof AppError && err.status === 409) {
        conn.peer.send(USERNAME_TAKEN);
        return;
      }
      throw err;
    }
    conn.peer.send(REGISTERED);
  }

  async #login(conn: LobbyConnection, message: object): Promise<void> {
    const parsed = parseLogin(message);
    if (!parsed.ok) {
      conn.peer.send(lobbyFailure("login", new AppError(400, parsed.message)));
      return;
    }
    const { username } = parsed.value;
    takeLoginAttempt(this.#deps.limiter, { address: conn.address, username });
    const user = await authenticateLobbyUser(this.#deps.kv, parsed.value);
    if (!user) {
      conn.peer.send(
        loginReply({ ok: false, reason: "invalid_credentials" }, "socket")
          .body,
      );
      return;
    }
    if (
      conn.user === user.username || !(await this.#claim(conn, user.username))
    ) {
      conn.peer.send(
        loginReply({ ok: false, reason: "already_logged_in" }, "socket").body,
      );
      return;
    }
    const token = await issueLobbyToken(this.#deps.kv, user.username, {
      ttlMs: this.tokenTtlMs,
    });
    conn.peer.send(
      loginReply({
        ok: true,
        token,
        username: user.username,
        avatar: avatarUrl(user),
      }, "socket").body,
    );
  }

  async #chat(conn: LobbyConnection, message: object): Promise<void> {
    const user = await this.#tokenUser(conn, "chat", message);
    if (!user) return;
    const parsed = parseChat(message);
    if (!parsed.ok) {
      conn.peer.send(lobbyFailure("chat", new AppError(400, parsed.message)));
      return;
    }
    takeChatLine(this.#deps.limiter, user);
    await postLobbyChat(this.#deps.kv, user, parsed.value.message);
    conn.peer.send(accepted("chat"));
  }

  async #heartbeat(conn: LobbyConnection, message: object): Promise<void> {
    if (!(await this.#tokenUser(conn, "heartbeat", message))) return;
    conn.peer.send(accepted("heartbeat"));
  }

  /**
   * The user of the message's token when it is live and the user is logged
   * in; otherwise replies the seed's error (error_Mt, error_It, error_Nli;
   * heartbeat replies plain "error") and returns null.
   */
  async #tokenUser(
    conn: LobbyConnection,
    type: "chat" | "heartbeat",
    message: object,
  ): Promise<string | null> {
    const token = (message as { token?: unknown }).token;
    const fail = (why: TokenRefusal) => {
      conn.peer.send(tokenRefused(type, why));
      return null;
    };
    if (token === undefined || token === null || token === "") {
      return fail("missing");
    }
    const user = typeof token === "string"
      ? await useLobbyToken(this.#deps.kv, token)
      : null;
    if (!user) return fail("invalid");
    if (conn.user !== user && !(await this.isOnline(user))) {
      return fail("not_logged_in");
    }
    return user;
  }

  #failure(type: string, err: unknown): Record<string, unknown> {
    return lobbyFailure(type, asAppError(err, this.#deps.log));
  }

  /**
   * Makes `conn` hold `username`, then releases a user it held before;
   * false while another live connection holds `username`.
   */
  #claim(conn: LobbyConnection, username: string): Promise<boolean> {
    return this.#presenceOp(conn, async () => {
      if (conn.detached) return false;
      const stamp = await claimPresence(this.#deps.kv, username, {
        instance: this.instanceId,
        connection: conn.id,
        ttlMs: this.#presenceTtlMs,
        canReplace: (holder) =>
          holder.instance === this.instanceId && !this.#holderAlive(holder),
      });
      if (!stamp) return false;
      await this.#release(conn);
      conn.user = username;
      conn.presenceStamp = stamp;
      conn.presenceWrittenAt = Date.now();
      return true;
    });
  }

  async #refresh(conn: LobbyConnection): Promise<void> {
    if (conn.detached || conn.user === null || conn.presenceStamp === null) {
      return;
    }
    const stamp = await refreshPresence(this.#deps.kv, conn.user, {
      versionstamp: conn.presenceStamp,
      ttlMs: this.#presenceTtlMs,
    });
    if (stamp) {
      conn.presenceStamp = stamp;
      return;
    }
    // Another connection holds the user now: one active connection per user.
    conn.presenceStamp = null;
    this.#drop(conn, "the account logged in on another connection");
  }

  async #release(conn: LobbyConnection): Promise<void> {
    const { user, presenceStamp } = conn;
    conn.user = null;
    conn.presenceStamp = null;
    if (user !== null && presenceStamp !== null) {
      await releasePresence(this.#deps.kv, user, {
        versionstamp: presenceStamp,
      });
    }
  }

  /**
   * Runs a presence write after the connection's earlier ones. Its result
   * is returned; a failure is logged and does not stop later writes.
   */
  #presenceOp<T>(conn: LobbyConnection, op: () => Promise<T>): Promise<T> {
    const result = conn.presenceOps.then(op);
    conn.presenceOps = result.then(() => {}, (err) => {
      this.#deps.log.warn("lobby presence write failed", {
        error: err instanceof Error ? err.message : String(err),
      });
    });
    return result;
  }

  /** Pings the local holder of a presence; a dead one is dropped. */
  #holderAlive(holder: Presence): boolean {
    const conn = this.#connections.get(holder.connection);
    if (!conn || conn.detached) return false;
    if (conn.peer.send(PING)) return true;
    this.#drop(conn, "not taking writes");
    return false;
  }

  #drop(conn: LobbyConnection, reason: string): void {
    conn.peer.close(reason);
    void this.detach(conn);
  }

  #sweep(): void {
    const cutoff = Date.now() - this.idleMs;
    for (const conn of this.#connections.values()) {
      if (conn.lastActive < cutoff) {
        this.#drop(conn, `no activity for ${Math.round(this.idleMs / 1000)} s`);
      }
    }
  }

  #deliver(event: LobbyEvent): void {
    const frame = {
      type: "chat",
      user: event.user,
      message: event.message,
      avatar: event.avatar,
    };
    for (const conn of this.#connections.values()) {
      if (conn.user !== null && !conn.detached) conn.peer.send(frame);
    }
  }

  /**
   * Follows the event log: on every change of the head (the watch may
   * coalesce several), reads all events after the cursor and delivers
   * them. Restarts after a failure until the hub closes.
   */
  async #watch(): Promise<void> {
    let cursor: number | null = null;
    while (!this.#closed) {
      try {
        cursor ??= await lobbyHead(this.#deps.kv);
        if (this.#closed) return;
        this.#watchReader = this.#deps.kv.watch([LOBBY_HEAD_KEY]).getReader();
        for (;;) {
          const { done, value } = await this.#watchReader.read();
          if (done || this.#closed) return;
          const head = (value[0].value as number | null) ?? 0;
          while (cursor < head && !this.#closed) {
            const events = await listLobbyEvents(this.#deps.kv, cursor);
            if (events.length === 0) {
              cursor = head; // expired before this instance read them
              break;
            }
            for (const event of events) this.#deliver(event);
            cursor = events[events.length - 1].seq;
          }
        }
      } catch (err) {
        if (this.#closed) return;
        this.#deps.log.warn("lobby watch failed; retrying", {
          error: err instanceof Error ? err.message : String(err),
        });
        await this.#watchReader?.cancel().catch(() => {});
        await new Promise<void>((resolve) => {
          this.#retryWake = resolve;
          this.#retryTimer = setTimeout(resolve, 1000);
        });
      }
    }
  }
}
