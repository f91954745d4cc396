import { z } from "zod";
import {
  cancelQrLogin,
  confirmQrLogin,
  type QrLogin,
  type QrLoginAction,
  scanQrLogin,
} from "../domain/qr_login/qr_logins.ts";
import { toyBody } from "../domain/smart_toy/envelope.ts";
import type { AppDeps } from "../domain/platform/services.ts";
import { type Feature, subApp } from "./app.ts";
import { api, bindRoute, caller, readBody, validate } from "./_http.ts";

/**
 * QR-code login for web pages (seed 004, CONTRACTS.md "QR-code login"),
 * the app's side: the signed-in app POSTs `/qr_login/scan`, then
 * `/qr_login/confirm` or `/qr_login/cancel`, on any instance. The page's
 * socket (`/qr_login`) is realtime/qr_login/page_socket.ts; the state lives
 * in KV (domain/qr_login/qr_logins.ts).
 */

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

/** The app's side of QR-code login: scan, confirm, cancel (seed 004). */
export function qrLoginFeature(deps: AppDeps): Feature {
  const app = subApp();
  for (const { route, act, msg } of ACTIONS) {
    bindRoute(app, route, async function changeQrLogin(c) {
      const body = await readBody(c);
      const user = await caller(c, ["user"], body);
      const { key } = validate(keyBody, body);
      const login = await act(deps.kv, { key, userId: user.id });
      return c.json(toyBody(0, msg, { key, state: login.state }));
    });
  }
  return { app };
}
