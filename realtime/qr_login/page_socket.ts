import { logout } from "../../domain/smart_toy/accounts.ts";
import { asAppError } from "../../domain/platform/errors.ts";
import {
  createQrLogin,
  discardQrLogin,
  liveQrLogin,
  QR_LOGIN_TTL_MS,
  type QrLogin,
  qrLoginKey,
  redeemQrLogin,
} from "../../domain/qr_login/qr_logins.ts";
import { qrPngDataUrl } from "../../domain/qr_login/qr_png.ts";
import { busy } from "../../domain/platform/rate_limit.ts";
import {
  clientAddressOf,
  trustedProxiesOf,
} from "../../domain/platform/client_address.ts";
import { toyBody, toyErrorBody } from "../../domain/smart_toy/envelope.ts";
import type { AppDeps } from "../../domain/platform/services.ts";
import { refusal, type SocketEndpoint } from "../endpoint.ts";
import { isUpgrade, type Peer, upgradeSocket } from "../ws.ts";

/**
 * The QR-login page socket (seed 004): a web page opens `/qr_login` and
 * gets `{type: "key", key, qr, expires_in}`, then `{type: "scanned"}`, and
 * `{type: "token", token, user_id}`, `{type: "cancelled"}` or
 * `{type: "expired"}`, after which the server closes the socket.
 *
 * The app may call any instance (routes/qr_login.ts): the state lives in KV
 * and the instance holding the page's socket watches that one key, pushes
 * frames, runs the expiry timer, and mints the page's session itself on
 * confirm, so the token is never stored in KV and reaches only that socket.
 */

/** Options of `qrLoginEndpoint`; the defaults are the production values. */
export interface QrLoginOptions {
  /** Life of a key, in milliseconds (the page is told `expires_in` seconds). */
  ttlMs?: number;
  /** Keys one client address may create per `keyWindowMs`. */
  keysPerWindow?: number;
  keyWindowMs?: number;
  /** Page sockets one instance holds at most, all addresses together; past it, 503. */
  maxPages?: number;
}

/**
 * Open QR pages per instance by default: each holds a socket, a KV record
 * and a watch (~30 KB together), so 2,000 pages stay near 60 MB while a
 * real site rarely has more than a handful open.
 */
export const MAX_QR_PAGES = 2_000;
/** Seconds a page refused for the global cap is told to wait. */
const PAGES_RETRY_AFTER_SECONDS = 5;
const PATH = "/qr_login";

/** Answers `/qr_login` page sockets; close() ends every page. */
export function qrLoginEndpoint(
  deps: AppDeps,
  {
    ttlMs = QR_LOGIN_TTL_MS,
    keysPerWindow = 20,
    keyWindowMs = 60_000,
    maxPages = MAX_QR_PAGES,
  }: QrLoginOptions = {},
): SocketEndpoint {
  const pages = new Set<QrPage>();
  const trusted = trustedProxiesOf(deps.config);
  let closing = false;

  function openPage(
    req: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ): Response {
    if (!isUpgrade(req)) {
      return Response.json(
        toyBody(400, "open /qr_login as a WebSocket (Upgrade: websocket)"),
        { status: 400 },
      );
    }
    const address = clientAddressOf(
      info.remoteAddr.hostname,
      req.headers,
      trusted,
    );
    deps.limiter.take(
      `qr_login_keys:${address}`,
      keysPerWindow,
      keyWindowMs,
      "QR login keys",
    );
    if (pages.size >= maxPages) {
      throw busy(
        `too many QR login pages are open: try again in ${PAGES_RETRY_AFTER_SECONDS} s`,
        PAGES_RETRY_AFTER_SECONDS,
      );
    }
    // Counted from the handshake, not from open: a flood of upgrades that
    // have not opened yet still meets the cap.
    const page = new QrPage(deps, ttlMs, () => pages.delete(page));
    pages.add(page);
    const res = upgradeSocket(
      req,
      {
        onOpen(peer) {
          if (closing) {
            peer.close(1001, "server is shutting down");
            return void page.finish("shutdown");
          }
          page.start(peer);
        },
        onText(peer) {
          peer.send({
            type: "error",
            msg: "this socket only sends; use the app to scan",
          });
        },
        onClose() {
          page.finish("abandoned");
        },
      },
      {},
      (err) => deps.log.error("qr login socket failed", { error: String(err) }),
    );
    if (res.status !== 101) pages.delete(page);
    return res;
  }

  return {
    handle(req, info, path = new URL(req.url).pathname) {
      if (path !== PATH) return null;
      try {
        return openPage(req, info);
      } catch (err) {
        const e = asAppError(err, deps.log);
        return refusal(toyErrorBody(e), e);
      }
    },
    async close() {
      closing = true;
      await Promise.all(
        [...pages].map((page) =>
          page.finish("shutdown", {
            code: 1001,
            reason: "server is shutting down",
          })
        ),
      );
    },
  };
}

/** How a page's socket ended, for the metrics. */
type Outcome =
  | "signed_in"
  | "cancelled"
  | "expired"
  | "abandoned"
  | "shutdown"
  | "failed";

/**
 * One page socket and its key: sends the key, runs the expiry timer,
 * watches the key's record and relays its changes, and on any end deletes
 * the record, stops the watch and the timer, and closes the socket.
 */
class QrPage {
  readonly #deps: AppDeps;
  readonly #ttlMs: number;
  readonly #onEnd: () => void;
  #peer: Peer | null = null;
  #key: string | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #reader: ReadableStreamDefaultReader<[Deno.KvEntryMaybe<QrLogin>]> | null =
    null;
  #starting: Promise<void> = Promise.resolve();
  #watching: Promise<void> = Promise.resolve();
  #finished: Promise<void> | null = null;

  constructor(deps: AppDeps, ttlMs: number, onEnd: () => void) {
    this.#deps = deps;
    this.#ttlMs = ttlMs;
    this.#onEnd = onEnd;
  }

  get #done(): boolean {
    return this.#finished !== null;
  }

  /** Creates the key, sends it, and starts the timer and the watch. */
  start(peer: Peer): void {
    this.#peer = peer;
    this.#starting = this.#sendKey(peer).catch((err) => this.#fail(err));
  }

  async #sendKey(peer: Peer): Promise<void> {
    const { kv } = this.#deps;
    const { key, login } = await createQrLogin(kv, { ttlMs: this.#ttlMs });
    this.#key = key;
    if (this.#done) {
      await discardQrLogin(kv, key);
      return;
    }
    const qr = qrPngDataUrl(key);
    peer.send({ type: "key", key, qr, expires_in: this.#ttlMs / 1000 });
    this.#timer = setTimeout(
      () => this.finish("expired", { frame: { type: "expired" } }),
      Math.max(0, login.expiresAt - Date.now()),
    );
    this.#reader = kv.watch<[QrLogin]>([qrLoginKey(key)]).getReader();
    this.#watching = this.#relay(this.#reader, peer).catch((err) =>
      this.#fail(err)
    );
  }

  /** Relays record changes; returns once the page is done (never awaits finish). */
  async #relay(
    reader: ReadableStreamDefaultReader<[Deno.KvEntryMaybe<QrLogin>]>,
    peer: Peer,
  ): Promise<void> {
    let toldScanned = false;
    while (!this.#done) {
      const next = await reader.read();
      if (next.done || this.#done) return;
      const [entry] = next.value;
      const login = liveQrLogin(entry);
      if (!login) {
        this.finish("expired", { frame: { type: "expired" } });
        return;
      }
      if (login.state === "cancelled") {
        this.finish("cancelled", { frame: { type: "cancelled" } });
        return;
      }
      if (login.state !== "pending" && !toldScanned) {
        toldScanned = peer.send({ type: "scanned" });
      }
      if (login.state === "confirmed") {
        const token = await redeemQrLogin(this.#deps.kv, entry);
        if (token === null) continue;
        // user_id tells the page whose session it holds (for /app's calls).
        if (!peer.send({ type: "token", token, user_id: login.userId })) {
          await logout(this.#deps.kv, token);
          this.finish("abandoned");
          return;
        }
        this.finish("signed_in");
        return;
      }
    }
  }

  #fail(err: unknown): void {
    if (this.#done) return;
    this.#deps.log.error("qr login page failed", {
      error: err instanceof Error ? (err.stack ?? err.message) : String(err),
    });
    this.finish("failed", {
      frame: { type: "error", msg: "QR login failed: reload the page" },
      code: 1011,
    });
  }

  /**
   * Ends the page once: sends `frame` if given, closes the socket, stops
   * the timer and the watch, deletes the key's record, and waits for work
   * in flight. Idempotent; every caller gets the same promise, which never
   * rejects (failures are logged). The page counts as open until then, so
   * the feature's close() waits for it.
   */
  finish(
    outcome: Outcome,
    { frame, code = 1000, reason = "" }: {
      frame?: Record<string, unknown>;
      code?: number;
      reason?: string;
    } = {},
  ): Promise<void> {
    this.#finished ??= (async () => {
      clearTimeout(this.#timer);
      this.#deps.metrics.inc("babble_qr_logins_total", { outcome });
      if (frame) this.#peer?.send(frame);
      this.#peer?.close(code, reason);
      try {
        await this.#reader?.cancel().catch(() => {});
        await this.#starting;
        await this.#watching;
        if (this.#key) await discardQrLogin(this.#deps.kv, this.#key);
      } catch (err) {
        this.#deps.log.error("qr login cleanup failed", {
          error: err instanceof Error ? err.message : String(err),
        });
      } finally {
        this.#onEnd();
      }
    })();
    return this.#finished;
  }
}
