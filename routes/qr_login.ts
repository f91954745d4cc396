import { z } from "zod";
import { logout } from "../domain/smart_toy/accounts.ts";
import { AppError } from "../domain/platform/errors.ts";
import {
  cancelQrLogin,
  confirmQrLogin,
  createQrLogin,
  discardQrLogin,
  liveQrLogin,
  QR_LOGIN_TTL_MS,
  type QrLogin,
  type QrLoginAction,
  qrLoginKey,
  redeemQrLogin,
  scanQrLogin,
} from "../domain/qr_login/qr_logins.ts";
import { qrPngDataUrl } from "../domain/qr_login/qr_png.ts";
import { busy } from "../domain/platform/rate_limit.ts";
import { isUpgrade, type Peer, upgradeSocket } from "../realtime/ws.ts";
import { type Feature, subApp } from "./app.ts";
import type { AppDeps } from "../domain/platform/services.ts";
import {
  api,
  bindRoute,
  caller,
  clientAddress,
  readBody,
  validate,
} from "./_http.ts";

/**
 * QR-code login for web pages (seed 004, CONTRACTS.md "QR-code login").
 *
 * The page opens WebSocket `/qr_login` and gets
 * `{type: "key", key, qr, expires_in}`; the signed-in app POSTs
 * `/qr_login/scan`, then `/qr_login/confirm` or `/qr_login/cancel`. The
 * page hears `{type: "scanned"}`, then `{type: "token", token}`,
 * `{type: "cancelled"}` or `{type: "expired"}`, and after the last three the
 * server closes the socket.
 *
 * The app may call any instance: the state lives in KV (domain/qr_logins.ts)
 * and the instance holding the page's socket watches that one key, pushes
 * frames, runs the expiry timer, and mints the page's session itself on
 * confirm, so the token is never stored in KV and reaches only that socket.
 */

/** Options of `qrLoginFeature`; the defaults are the production values. */
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

const keyField = z.string().trim().toLowerCase().regex(/^[0-9a-f]{32}$/, {
  error: (issue) =>
    `must be the 32 hex characters the QR code holds, got ${
      JSON.stringify(String(issue.input).slice(0, 40))
    }`,
});

const keyBody = z.object({ key: keyField });

const replyShape = z.object({
  code: z.literal(0),
  msg: z.string(),
  data: z.object({
    key: z.string(),
    state: z.enum(["scanned", "confirmed", "cancelled"]),
  }),
});

const pageRoute = api({
  method: "GET",
  path: "/qr_login",
  tag: "qr_login",
  summary: "WebSocket for a web page: sends {type: 'key', key, qr (PNG data " +
    "URL), expires_in}, then 'scanned', and 'token' | 'cancelled' | " +
    "'expired' before the server closes it. Rate-limited per address (429).",
  auth: "none",
});

const scanRoute = api({
  method: "POST",
  path: "/qr_login/scan",
  tag: "qr_login",
  summary: "The app scanned a page's QR code; the page hears 'scanned'. " +
    "404 unknown/expired/used key, 409 scanned by another account.",
  auth: "user",
  body: keyBody,
  reply: replyShape,
});

const confirmRoute = api({
  method: "POST",
  path: "/qr_login/confirm",
  tag: "qr_login",
  summary: "The scanning user confirms; the page gets a new session token " +
    "for that user. 409 before a scan or for another account.",
  auth: "user",
  body: keyBody,
  reply: replyShape,
});

const cancelRoute = api({
  method: "POST",
  path: "/qr_login/cancel",
  tag: "qr_login",
  summary: "The app declines; the page hears 'cancelled' and the key dies.",
  auth: "user",
  body: keyBody,
  reply: replyShape,
});

const ACTIONS: {
  route: typeof scanRoute;
  act: (kv: Deno.Kv, action: QrLoginAction) => Promise<QrLogin>;
  msg: string;
}[] = [
  { route: scanRoute, act: scanQrLogin, msg: "scanned: confirm on the phone" },
  {
    route: confirmRoute,
    act: confirmQrLogin,
    msg: "confirmed: the page is signed in",
  },
  { route: cancelRoute, act: cancelQrLogin, msg: "cancelled" },
];

/** QR-code login for web pages (seed 004); close() ends every page socket. */
export function qrLoginFeature(
  deps: AppDeps,
  {
    ttlMs = QR_LOGIN_TTL_MS,
    keysPerWindow = 20,
    keyWindowMs = 60_000,
    maxPages = MAX_QR_PAGES,
  }: QrLoginOptions = {},
): Feature {
  const app = subApp();
  const pages = new Set<QrPage>();
  let closing = false;

  bindRoute(app, pageRoute, function openQrLoginPage(c) {
    if (!isUpgrade(c.req.raw)) {
      throw new AppError(
        400,
        "open /qr_login as a WebSocket (Upgrade: websocket)",
      );
    }
    deps.limiter.take(
      `qr_login_keys:${clientAddress(c)}`,
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
      c.req.raw,
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
  });

  for (const { route, act, msg } of ACTIONS) {
    bindRoute(app, route, async function changeQrLogin(c) {
      const body = await readBody(c);
      const user = await caller(c, ["user"], body);
      const { key } = validate(keyBody, body);
      const login = await act(deps.kv, { key, userId: user.id });
      return c.json({ code: 0, msg, data: { key, state: login.state } });
    });
  }

  return {
    app,
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
        if (!peer.send({ type: "token", token })) {
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
