import type { Context } from "hono";
import { type AppEnv, type Feature, subApp } from "./app.ts";
import type { AppDeps } from "../domain/platform/services.ts";
import { toHex } from "../domain/store/ids.ts";

/**
 * The web pages (issue 12): plain HTML, CSS and ES modules from
 * `static/pages/`, no build step. Each page is served at its own path, its
 * scripts and styles under `/assets/<file>`, and the one third-party
 * library (jsQR, pinned in deno.json) under `/assets/vendor/`.
 *
 * Pages are not API routes, so they are not in /openapi.json. Files are
 * read from paths relative to this module (they work inside a compiled
 * binary, where `static/` and jsQR's `dist/` are embedded), once, and kept
 * in memory with a strong ETag: a browser revalidates and gets 304.
 */

const STATIC_PAGES = new URL("../static/pages/", import.meta.url);
const VENDOR: Record<string, URL> = {
  // Pinned by deno.json ("jsqr": "npm:jsqr@1.4.0"); the name carries the
  // version, so browsers may keep it for good.
  "jsqr-1.4.0.js": new URL(
    "../node_modules/jsqr/dist/jsQR.js",
    import.meta.url,
  ),
};

/** Page paths and their HTML files. */
const PAGES: Record<string, string> = {
  "/": "index.html",
  "/admin": "admin.html",
  "/toy": "toy.html",
  "/app": "app.html",
  "/login": "login.html",
  "/lobby": "lobby.html",
  "/diary": "diary.html",
  "/docs": "docs.html",
};

/** Asset names: flat, lowercase, one of the served types; never a path. */
const ASSET_NAME = /^[a-z0-9_]+\.(js|css|svg|png)$/;

const CONTENT_TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
};

/**
 * Only our own scripts and styles; images and audio may also be data: URLs
 * (the QR login code) and blob: URLs (recordings, QR photos); sockets to
 * this host.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' data: blob:",
  "connect-src 'self' ws: wss:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS = {
  "content-security-policy": CSP,
  "x-content-type-options": "nosniff",
  // The admin page's setup link carries its token in the fragment, which
  // browsers never send; no referrer keeps page addresses private too.
  "referrer-policy": "no-referrer",
  "permissions-policy": "microphone=(self), camera=(self), geolocation=()",
};

/** A file ready to serve. */
interface Served {
  body: Uint8Array<ArrayBuffer>;
  etag: string;
  type: string;
}

/** The web pages and their assets. */
export function pagesFeature(_deps: AppDeps): Feature {
  const app = subApp();
  const files = new Map<string, Promise<Served | null>>();

  /** Reads `url` once; null when it does not exist. */
  function load(url: URL, type: string): Promise<Served | null> {
    const key = url.href;
    let served = files.get(key);
    if (!served) {
      served = readServed(url, type);
      files.set(key, served);
      // A missing file is not remembered: it may be added while running.
      served.then((s) => s ?? files.delete(key), () => files.delete(key));
    }
    return served;
  }

  function send(
    c: Context<AppEnv>,
    served: Served | null,
    cacheControl: string,
  ): Response | Promise<Response> {
    if (!served) return c.notFound();
    const headers = {
      ...SECURITY_HEADERS,
      "content-type": served.type,
      "cache-control": cacheControl,
      etag: served.etag,
    };
    if (c.req.header("if-none-match") === served.etag) {
      return c.body(null, 304, headers);
    }
    return c.body(served.body, 200, headers);
  }

  for (const [path, file] of Object.entries(PAGES)) {
    app.get(path, async function servePage(c) {
      const served = await load(
        new URL(file, STATIC_PAGES),
        CONTENT_TYPES.html,
      );
      return send(c, served, "no-cache");
    });
  }

  app.get("/assets/vendor/:file", async function serveVendor(c) {
    const url = VENDOR[c.req.param("file")];
    if (!url) return c.notFound();
    const served = await load(url, CONTENT_TYPES.js);
    return send(c, served, "public, max-age=604800, immutable");
  });

  app.get("/assets/:file", async function serveAsset(c) {
    const file = c.req.param("file");
    const match = ASSET_NAME.exec(file);
    if (!match) return c.notFound();
    const served = await load(
      new URL(file, STATIC_PAGES),
      CONTENT_TYPES[match[1]],
    );
    // Asset names carry no version: revalidate (a 304 costs one round trip).
    return send(c, served, "no-cache");
  });

  app.get("/favicon.ico", async function serveIcon(c) {
    const served = await load(
      new URL("icon.svg", STATIC_PAGES),
      CONTENT_TYPES.svg,
    );
    return send(c, served, "public, max-age=86400");
  });

  return { app };
}

async function readServed(url: URL, type: string): Promise<Served | null> {
  let body: Uint8Array<ArrayBuffer>;
  try {
    body = await Deno.readFile(url);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", body));
  return { body, etag: `"${toHex(digest.subarray(0, 12))}"`, type };
}
