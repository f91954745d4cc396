import assert from "node:assert/strict";
import { startTestServer } from "../_server.ts";
import {
  assertClean,
  BROWSER_TEST,
  launchBrowser,
  newContext,
  screenshots,
  watchedPage,
} from "./_browser.ts";

/**
 * Every page as a first-time visitor sees it: served with its security
 * headers, rendered without errors or failed requests at desktop and phone
 * sizes (screenshots saved), in the browser's language and switchable.
 */

/** Each page and what shows once it has loaded. */
const PAGES: [path: string, name: string, ready: string][] = [
  ["/", "landing", "#facts dd"],
  ["/admin", "admin-signin", "#signin:not([hidden])"],
  ["/toy", "toy", "#power-form"],
  ["/app", "app-signin", "#auth:not([hidden])"],
  ["/login", "login-page", "#qr:not([hidden])"],
  ["/lobby", "lobby-page", "#conn.ok"],
  [
    "/diary",
    "diary-signin",
    "#signin:not([hidden]), #unavailable:not([hidden])",
  ],
  ["/docs", "docs", "#ops details"],
];

Deno.test({
  name:
    "pages: each page loads cleanly, with screenshots at desktop and phone sizes",
  ...BROWSER_TEST,
  async fn() {
    await using server = await startTestServer();
    await using browser = await launchBrowser();
    const context = await newContext(browser);
    for (const [path, name, ready] of PAGES) {
      const res = await fetch(server.url + path);
      await res.body?.cancel();
      assert.equal(res.status, 200, path);
      assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
      assert.match(
        res.headers.get("content-security-policy") ?? "",
        /default-src 'self'/,
      );
      const watched = await watchedPage(context);
      await watched.page.goto(server.url + path);
      await watched.page.locator(ready).first().waitFor();
      await screenshots(watched.page, name);
      assertClean(watched, path);
      await watched.page.close();
    }
  },
});

Deno.test({
  name: "pages: the landing page shows what runs and links every page",
  ...BROWSER_TEST,
  async fn() {
    await using server = await startTestServer();
    await using browser = await launchBrowser();
    const watched = await watchedPage(await newContext(browser));
    const page = watched.page;
    await page.goto(server.url);
    await page.getByRole("heading", { name: "Babble is running" }).waitFor();
    await page.locator("#status-pill", { hasText: "All good" }).waitFor();
    const health = await (await fetch(`${server.url}/healthz`)).json();
    if (health.version) {
      await page.locator("#facts dd", { hasText: health.version }).waitFor();
    }
    for (
      const path of [
        "/toy",
        "/app",
        "/login",
        "/lobby",
        "/diary",
        "/admin",
        "/docs",
      ]
    ) {
      assert.ok(
        await page.locator(`#tiles a[href="${path}"]`).count(),
        `a tile links ${path}`,
      );
    }
    await page.locator("#tiles a[href='/docs']").click();
    await page.getByRole("heading", { name: "API reference" }).waitFor();
    assertClean(watched, "landing");
  },
});

Deno.test({
  name: "pages: Chinese from the browser's language, switchable and remembered",
  ...BROWSER_TEST,
  async fn() {
    await using server = await startTestServer();
    await using browser = await launchBrowser();
    const watched = await watchedPage(
      await newContext(browser, { locale: "zh-CN" }),
    );
    const page = watched.page;
    await page.goto(`${server.url}/app`);
    await page.getByRole("heading", { name: "家长端" }).waitFor();
    assert.equal(await page.getAttribute("html", "lang"), "zh-CN");
    assert.equal(await page.getByLabel("密码").first().isVisible(), true);
    await screenshots(page, "app-signin-zh");

    await page.getByRole("button", { name: /Switch to English/ }).click();
    await page.getByRole("heading", { name: "Parents' app" }).waitFor();
    await page.goto(`${server.url}/toy`);
    await page.getByRole("heading", { name: "Toy simulator" }).waitFor();
    assert.equal(await page.getAttribute("html", "lang"), "en");
    assertClean(watched, "language switch");
  },
});

Deno.test({
  name: "pages: usable by keyboard, every control labelled",
  ...BROWSER_TEST,
  async fn() {
    await using server = await startTestServer();
    await using browser = await launchBrowser();
    const watched = await watchedPage(await newContext(browser));
    const page = watched.page;
    for (
      const path of [
        "/",
        "/admin",
        "/toy",
        "/app",
        "/login",
        "/lobby",
        "/diary",
        "/docs",
      ]
    ) {
      await page.goto(server.url + path);
      await page.locator("#lang-switch").waitFor();
      // The first Tab reaches the skip link, which moves focus to the page.
      await page.keyboard.press("Tab");
      assert.equal(
        await page.evaluate(() =>
          (globalThis as unknown as {
            document: { activeElement: { className: string } };
          }).document.activeElement.className
        ),
        "skip-link",
        path,
      );
      const unlabelled = await page.evaluate(() => {
        const dom = globalThis as unknown as {
          document: {
            querySelectorAll(s: string): Iterable<{
              id: string;
              type: string;
              labels: { length: number } | null;
              getAttribute(a: string): string | null;
              textContent: string | null;
            }>;
          };
        };
        const bad: string[] = [];
        for (
          const c of dom.document.querySelectorAll("input, select, textarea")
        ) {
          if (c.type === "hidden") continue;
          if (!c.labels?.length && !c.getAttribute("aria-label")) {
            bad.push(c.id);
          }
        }
        for (const b of dom.document.querySelectorAll("button")) {
          if (!b.textContent?.trim() && !b.getAttribute("aria-label")) {
            bad.push(b.id || "button");
          }
        }
        return bad;
      });
      assert.deepEqual(unlabelled, [], `${path}: unlabelled controls`);
    }
    assertClean(watched, "keyboard");
  },
});

Deno.test({
  name: "pages: the API docs render tags, schemas and the WebSocket endpoints",
  ...BROWSER_TEST,
  async fn() {
    await using server = await startTestServer();
    const doc = await (await fetch(`${server.url}/openapi.json`)).json();
    await using browser = await launchBrowser();
    const watched = await watchedPage(await newContext(browser));
    const page = watched.page;
    await page.goto(`${server.url}/docs`);
    const bindToy = page.locator("details.op", { hasText: "/bind_toy" });
    await bindToy.locator("summary").click();
    await bindToy.locator("table.schema td code", { hasText: "device_key" })
      .waitFor();
    const tags = new Set<string>();
    for (
      const ops of Object.values(doc.paths) as Record<
        string,
        { tags?: string[] }
      >[]
    ) {
      for (const op of Object.values(ops)) tags.add(op.tags?.[0] ?? "other");
    }
    for (const tag of tags) {
      assert.ok(
        await page.locator(`section[data-tag="${tag}"]`).count(),
        `a section for ${tag}`,
      );
    }
    const sockets = doc["x-websockets"];
    if (sockets) {
      const count = Array.isArray(sockets)
        ? sockets.length
        : Object.keys(sockets).length;
      assert.equal(await page.locator("span.method.ws").count(), count);
    }
    await page.fill("#filter", "qr_login");
    assert.equal(await bindToy.isVisible(), false);
    assert.ok(
      await page.locator("details.op", { hasText: "/qr_login/scan" })
        .isVisible(),
    );
    assertClean(watched, "docs");
  },
});
